"""Finding an offer's product when v1 cannot: the Product Ingestion API's
`GET product?externalId=` with a Graph-audience token from the same Entra app.

Since the April 2026 backend migration, v1's `GET /products` answers migrated Azure Application
offers with an empty page, or 400 `ICH50400` for some filters, while `GET /products/{id}`
still works; Microsoft's own clients look the product up here and use its GUID with v1.
"""

from __future__ import annotations

import re

from shared.partnercenter.client import PartnerCenterClient
from shared.partnercenter.errors import MalformedAnswer
from shared.partnercenter.responses import answer
from shared.request_base import GUID_PATTERN


class ProductIngestionLookup:
    """`product_ids(offer_id)`: the v1 product GUIDs whose external id is `offer_id`."""

    def __init__(self, client: PartnerCenterClient) -> None:
        self._client = client  # based at .../rp/product-ingestion, with Graph tokens

    def product_ids(self, offer_id: str) -> list[str]:
        data = answer(self._client.request("GET", "product", params={"externalId": offer_id}))
        items = data.get("value", []) if isinstance(data, dict) else []
        ids = []
        for item in items if isinstance(items, list) else []:
            identity = item.get("identity") if isinstance(item, dict) else None
            external = identity.get("externalId") if isinstance(identity, dict) else None
            raw = str(item.get("id", "")) if isinstance(item, dict) else ""
            if external == offer_id and raw:  # checked here too, whatever the filter did
                ids.append(raw.removeprefix("product/"))
        if any(not re.fullmatch(GUID_PATTERN, i) for i in ids):  # v1 names products by GUID
            raise MalformedAnswer("the Product Ingestion API gave a product id that is no GUID")
        return ids

    def warm(self) -> None:
        self._client.warm()

    def close(self) -> None:
        self._client.close()
