"""Checks the dashboard's products view on a served bundle against the API, as an analyst uses
it: a filter (the top region, the last two months) with the months before, rendered in headless
Chromium, must rank the products as RankProducts does for the same filters, and its CSV must
hold the RPC's figures for both periods; the filter must change the figures.

    python3 scripts/dashboard-check.py http://127.0.0.1:9095

Exits 1 naming the first disagreement.
"""
import csv
import io
import json
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

BASE = sys.argv[1].rstrip("/")


def rpc(method, body):
    request = urllib.request.Request(f"{BASE}/v1/{method}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def fail(message):
    sys.exit(f"dashboard check failed: {message}")


overview = rpc("InsightsService/GetOverview", {})
months = [m["name"] for m in overview["months"]]
if len(months) < 4 or not overview["regions"]:
    fail(f"the export has {len(months)} months and {len(overview['regions'])} regions")
region = overview["regions"][0]["name"]
chosen, before = months[-2:], months[-4:-2]


def ranking(period, pages=1):
    """The first `pages` pages of 50 (every page when None) of the region's ranking."""
    products, token = [], ""
    while pages is None or pages > 0:
        answer = rpc("InsightsService/RankProducts", {
            "metric": "METRIC_REVENUE", "region": region, "pageSize": 50, "pageToken": token,
            "period": {"fromMonth": period[0], "toMonth": period[-1]}})
        products += answer["products"]
        token = answer["nextPageToken"]
        pages = None if pages is None else pages - 1
        if not token:
            break
    return products


now = ranking(chosen)
then = {p["productId"]: p["value"] for p in ranking(before, pages=None)}
everywhere = rpc("InsightsService/RankProducts", {"metric": "METRIC_REVENUE", "pageSize": 50})["products"]
if [p["value"] for p in now] == [p["value"] for p in everywhere[:len(now)]]:
    fail("the region and months filter did not change the figures")

query = urllib.parse.urlencode({"metric": "revenue", "region": region, "from": chosen[0],
                                "to": chosen[-1], "compare": "previous"})
page = f"{BASE}/dashboard/products?{query}"
with tempfile.TemporaryDirectory() as profile:
    run = subprocess.run(["timeout", "60", "chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={profile}", "--virtual-time-budget=2000", "--dump-dom",
                          page], capture_output=True, text=True)
if run.returncode != 0 or 'id="ranking"' not in run.stdout:
    fail(f"{page} did not render: {run.stderr[-500:]}")
rows = run.stdout.split('id="ranking"')[1].split("</table>")[0].split("<tr>")[2:]
if len(rows) != len(now):
    fail(f"{page}: {len(rows)} rows, the RPC ranks {len(now)}")
for row, product in zip(rows, now):
    if product["productId"] not in row:
        fail(f"{page}: a row is not {product['productId']}: {row[:200]}")

with urllib.request.urlopen(f"{page}&format=csv", timeout=30) as answer:
    table = list(csv.DictReader(io.StringIO(answer.read().decode())))
for line, product in zip(table, now):
    if line["product_id"] != product["productId"] or float(line["revenue_ranked"]) != product["value"]:
        fail(f"CSV row {line['rank']}: {line['product_id']} {line['revenue_ranked']} "
             f"against {product['productId']} {product['value']}")
    expected = then.get(product["productId"])
    if (line["revenue_before"] == "") != (expected is None) or (
            expected is not None and float(line["revenue_before"]) != expected):
        fail(f"CSV row {line['rank']}: before {line['revenue_before']!r} against {expected}")
print(f"dashboard agrees with the API: {len(now)} products of {region}, {chosen[0]}–{chosen[-1]} "
      f"against {before[0]}–{before[-1]}")
