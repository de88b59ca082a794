"""The checkout's call and the pricing team's bulk call over HTTP/JSON, with `requests`.

    python3 docs/clients/http_checkout.py [http://127.0.0.1:9095]

Prints the order's cancellation probability and the prices of a small catalogue.
"""
import sys

import requests

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9095"

ORDER = {
    "orderId": "171-0000001-0000001",
    "orderDate": "2022-06-12",
    "fulfilment": "Merchant",
    "salesChannel": "Amazon.in",
    "shipServiceLevel": "Standard",
    "shipCity": "MUMBAI",
    "shipState": "Maharashtra",
    "shipPostalCode": "400081",
    "lines": [
        {"lineId": "1", "sku": "SET100-M", "style": "SET100", "category": "Set",
         "size": "M", "unitPrice": 799.0},
        {"lineId": "2", "sku": "JNE3781-KR-XXXL", "style": "JNE3781", "category": "kurta",
         "size": "XXXL", "unitPrice": 449.0},
    ],
}


def call(rpc, body, timeout_ms=500):
    """POSTs `body` to the RPC; the answer, or an error naming the gRPC status."""
    answer = requests.post(f"{BASE}/v1/{rpc}", json=body,
                           params={"timeout_ms": timeout_ms}, timeout=timeout_ms / 1000 + 1)
    if answer.status_code != 200:
        error = answer.json()
        raise RuntimeError(f"{rpc}: {error['status']} ({answer.status_code}): {error['message']}")
    return answer.json()


risk = call("PredictionService/PredictCancellation", {"order": ORDER, "skipExplanations": True})
print(f"cancellation {risk['orderCancelProbability']!r} {risk['orderRiskBand']}")

products = [
    {"productId": "earbuds", "name": "boAt Wireless Bluetooth Earbuds with Mic (Black)",
     "categoryPath": "Electronics|Headphones,Earbuds&Accessories|Headphones|In-Ear",
     "listPrice": 2999.0, "rating": 4.1, "ratingCount": "12000"},
    {"productId": "cable", "name": "USB-C to USB-C 1 m braided charging cable",
     "categoryPath": "Computers&Accessories|Accessories&Peripherals|Cables&Accessories|Cables",
     "listPrice": 499.0},
]
prices = call("PredictionService/PredictPriceBatch", {"products": products}, timeout_ms=2000)
for product, p in zip(products, prices["predictions"]):
    print(f"price {product['productId']}: {p['price']:.2f} {p['currency']} "
          f"(80% range {p['priceP10']:.2f}–{p['priceP90']:.2f})")

# A refusal names the field at fault.
try:
    call("PredictionService/PredictCancellation", {"order": {**ORDER, "orderDate": "12/06/2022"}})
except RuntimeError as refused:
    print(f"refused as expected: {refused}")
else:
    sys.exit("a bad order date was accepted")
