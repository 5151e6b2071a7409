"""Calls the simulator's unit tests make the way a client would."""

from __future__ import annotations

import httpx

from pcsim.world import Product


def submit(http: httpx.Client, product: Product) -> httpx.Response:
    instances = [
        {"type": b["module"], "value": b["currentDraftInstanceID"]}
        for m in ("Listing", "Property", "ResellerConfiguration")
        for b in http.get(f"products/{product.id}/branches/getByModule(module={m})").json()["value"]
        if "variantID" not in b
    ]
    return http.post(
        f"products/{product.id}/submissions",
        json={
            "resourceType": "SubmissionCreationRequest",
            "targets": [{"type": "Scope", "value": "preview"}],
            "resources": instances,
        },
    )
