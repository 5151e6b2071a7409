"""The baselines pc-publisher is measured against, written here against the simulator under
the same conditions as the throughput benchmark: a sequential loop like the existing tools
(one offer after another, a fresh token per offer) and a naive parallel script (one thread per
offer). Both make the minimal no-change publish sequence and poll every second, against the
same service as pc-publisher: today's, whose v1 listing comes back empty for a migrated offer,
so the offer is then looked up where Microsoft's own clients look it up since (the Product
Ingestion API, with a Graph token).

    python -m bench.baselines [--offers 20]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.throughput import critical_path
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.partnercenter.transport import tls_verify

ROOT = Path(__file__).resolve().parents[1]
GRAPH = "https://graph.microsoft.com/.default"


class Script:
    """What a publisher's script does for one offer, no retries, no pacing."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.admin = SimulatorClient(config)
        self.http = httpx.Client(verify=tls_verify(config.get("caCertPath")), timeout=60)
        self.base = config["ingestionBaseUrl"]

    def call(self, token: str, method: str, path: str, base: str = "", **kw: Any) -> Any:
        for _ in range(30):  # a 429: wait as told (scripts do at least that much)
            answer = self.http.request(
                method,
                f"{base or self.base}/{path}",
                headers={"Authorization": f"Bearer {token}"},
                **kw,
            )
            if answer.status_code != 429:
                answer.raise_for_status()
                return answer.json() if answer.content else None
            time.sleep(float(answer.headers.get("Retry-After", "1")))
        raise RuntimeError("throttled for good")

    def publish(self, offer: str) -> None:
        token = self.admin.token(self.config["clientId"], self.config["clientSecret"])
        product = self.product(token, offer)
        self.call(token, "GET", f"products/{product}/submissions")
        resources = []
        for module in ("Availability", "Listing", "Property", "Package", "ResellerConfiguration"):
            for branch in self.call(
                token, "GET", f"products/{product}/branches/getByModule(module={module})"
            )["value"]:
                if not branch.get("variantID"):
                    resources.append({"type": module, "value": branch["currentDraftInstanceID"]})
        sub = self.call(
            token,
            "POST",
            f"products/{product}/submissions",
            json={
                "resourceType": "SubmissionCreationRequest",
                "targets": [{"type": "Scope", "value": "preview"}],
                "resources": resources,
            },
        )["id"]
        self._until(token, product, sub, "ReadyToPublish")
        self.call(token, "POST", f"products/{product}/submissions/{sub}/promote")
        self._until(token, product, sub, "InStore")

    def product(self, token: str, offer: str) -> str:
        """The offer's product id: from v1's listing, else from the Product Ingestion API."""
        flt = f"ExternalIDs/Any(i:i/Type eq 'AzureOfferId' and i/Value eq '{offer}')"
        listed = self.call(token, "GET", "products", params={"$filter": flt})["value"]
        if listed:
            return str(listed[0]["id"])
        graph = self.admin.token(self.config["clientId"], self.config["clientSecret"], GRAPH)
        url = self.config["productIngestionUrl"]
        found = self.call(graph, "GET", "product", url, params={"externalId": offer})["value"]
        return str(found[0]["id"]).removeprefix("product/")

    def _until(self, token: str, product: str, sub: str, substate: str) -> None:
        while self.call(token, "GET", f"products/{product}/submissions/{sub}")["substate"] != (
            substate
        ):
            time.sleep(1.0)


def sequential(
    offers: int, latency_ms: float, rate_per_minute: float, certify: float, publish: float
) -> dict[str, Any]:
    """The sequential loop once (it takes minutes), on a stack of its own."""
    return _batch("sequential", offers, latency_ms, rate_per_minute, certify, publish, 1)


def parallel(
    offers: int, latency_ms: float, rate_per_minute: float, certify: float, publish: float
) -> dict[str, Any]:
    """The naive script once, one thread per offer, on a fresh stack as pc-publisher's cold
    batches are (bench.small_batch runs the two side by side)."""
    return _batch("parallel", offers, latency_ms, rate_per_minute, certify, publish, offers)


def _batch(
    kind: str,
    offers: int,
    latency_ms: float,
    rate_per_minute: float,
    certify: float,
    publish: float,
    threads: int,
) -> dict[str, Any]:
    """Publish `offers` offers of their own to live with `threads` threads; the wall time
    against the critical path the conditions imply."""
    with LocalStack(profile="fast") as stack:
        admin = SimulatorClient(stack.sim_config)
        admin.admin_put("timings", {"accept": 0.5, "certify": certify, "publish": publish})
        names = [f"{kind}-{i:03d}" for i in range(offers)]
        for name in names:
            admin.add_offer(name, ["basic"])
        admin.set_faults(latencyMs=latency_ms, rateLimit=int(rate_per_minute), rateWindowSeconds=60)
        script = Script(stack.sim_config)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(script.publish, names))
        wall = time.monotonic() - started
        admin.close()
    critical = critical_path(certify, publish, latency_ms)
    return {"offers": offers, "wall_s": round(wall, 1), "critical_path_s": round(critical, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=20)
    args = parser.parse_args()
    conditions = {"latency_ms": 100, "rate_per_minute": 1200, "certify": 5.0, "publish": 5.0}
    result = {
        "sequential": sequential(args.offers, **conditions),
        "parallel": parallel(args.offers, **conditions),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "baselines.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
