// The checkout's call over HTTP/JSON from the JVM, with the JDK's own HttpClient (Java 11+):
//
//     java docs/clients/Checkout.java [http://127.0.0.1:9095]
//
// Prints the order's cancellation probability; a refusal prints the gRPC status and exits 1.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

public class Checkout {
    public static void main(String[] args) throws Exception {
        String base = args.length > 0 ? args[0] : "http://127.0.0.1:9095";
        String order = """
            {"order": {"orderId": "171-0000001-0000001", "orderDate": "2022-06-12",
              "fulfilment": "Merchant", "salesChannel": "Amazon.in",
              "shipServiceLevel": "Standard", "shipCity": "MUMBAI", "shipState": "Maharashtra",
              "shipPostalCode": "400081",
              "lines": [
                {"lineId": "1", "sku": "SET100-M", "style": "SET100", "category": "Set",
                 "size": "M", "unitPrice": 799.0},
                {"lineId": "2", "sku": "JNE3781-KR-XXXL", "style": "JNE3781",
                 "category": "kurta", "size": "XXXL", "unitPrice": 449.0}]},
             "skipExplanations": true}
            """;
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest request = HttpRequest.newBuilder()
            .uri(URI.create(base + "/v1/PredictionService/PredictCancellation?timeout_ms=500"))
            .header("Content-Type", "application/json")
            .timeout(Duration.ofSeconds(2))
            .POST(HttpRequest.BodyPublishers.ofString(order))
            .build();
        HttpResponse<String> answer = client.send(request, HttpResponse.BodyHandlers.ofString());
        if (answer.statusCode() != 200) {
            System.err.println("refused (" + answer.statusCode() + "): " + answer.body());
            System.exit(1);
        }
        // A JSON library (Jackson, Gson) reads the whole answer; one field is enough here.
        String body = answer.body();
        String key = "\"orderCancelProbability\":";
        int at = body.indexOf(key) + key.length();
        int end = at;
        while (end < body.length() && "0123456789.eE+-".indexOf(body.charAt(end)) >= 0) end++;
        System.out.println("cancellation " + body.substring(at, end));
    }
}
