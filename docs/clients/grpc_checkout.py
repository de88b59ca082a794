"""The checkout's call over gRPC with `grpcio` and stubs generated from proto/ (grpcio-tools).

    python3 docs/clients/grpc_checkout.py [127.0.0.1:50051]

Generates the stubs into a temporary directory, then prints the order's cancellation
probability — the same figure as the HTTP/JSON call of http_checkout.py.
"""
import pathlib
import sys
import tempfile

import grpc
from grpc_tools import protoc

TARGET = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
PROTO = pathlib.Path(__file__).resolve().parents[2] / "proto"

stubs = tempfile.mkdtemp()
if protoc.main(["protoc", f"-I{PROTO}", f"--python_out={stubs}", f"--grpc_python_out={stubs}",
                "shopml/v1/prediction.proto"]) != 0:
    sys.exit("protoc failed")
sys.path.insert(0, stubs)
from shopml.v1 import prediction_pb2, prediction_pb2_grpc  # noqa: E402

order = prediction_pb2.Order(
    order_id="171-0000001-0000001", order_date="2022-06-12", fulfilment="Merchant",
    sales_channel="Amazon.in", ship_service_level="Standard", ship_city="MUMBAI",
    ship_state="Maharashtra", ship_postal_code="400081",
    lines=[
        prediction_pb2.OrderLine(line_id="1", sku="SET100-M", style="SET100", category="Set",
                                 size="M", unit_price=799.0),
        prediction_pb2.OrderLine(line_id="2", sku="JNE3781-KR-XXXL", style="JNE3781",
                                 category="kurta", size="XXXL", unit_price=449.0),
    ],
)
with grpc.insecure_channel(TARGET) as channel:
    client = prediction_pb2_grpc.PredictionServiceStub(channel)
    risk = client.PredictCancellation(
        prediction_pb2.PredictCancellationRequest(order=order, skip_explanations=True),
        timeout=0.5,
    )
print(f"cancellation {risk.order_cancel_probability!r} "
      f"{prediction_pb2.RiskBand.Name(risk.order_risk_band)}")
