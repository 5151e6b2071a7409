"""The listing's files in the ingestion API: images and assets (documents) under
`listings/{id}/{images|assets}`, and videos with their thumbnails; a part of the client, apart
because it is a family of its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.partnercenter.models import ListingMedia, ListingVideo
from shared.partnercenter.paths import segment
from shared.partnercenter.responses import parsed
from shared.partnercenter.transport import IngestionTransport


class ListingFiles(IngestionTransport):
    """A part of PartnerCenterClient, over its transport."""

    def media(self, product_id: str, listing_id: str, collection: str) -> list[ListingMedia]:
        """A listing's `images` or `assets` (supporting documents)."""
        path = f"products/{segment(product_id)}/listings/{segment(listing_id)}/{collection}"
        return list(self._paged(path, ListingMedia))

    def create_media(
        self,
        product_id: str,
        listing_id: str,
        collection: str,
        body: Mapping[str, Any],
    ) -> ListingMedia:
        """POST a file slot (with its SAS URI). Not idempotent: list before retrying."""
        path = f"products/{segment(product_id)}/listings/{segment(listing_id)}/{collection}"
        return parsed(ListingMedia, self.request("POST", path, json=dict(body)))

    def put_media(
        self,
        product_id: str,
        listing_id: str,
        collection: str,
        body: Mapping[str, Any],
        etag: str | None,
    ) -> ListingMedia:
        """Mark a file uploaded (`state: Uploaded`) or set its order, with its ETag."""
        path = (
            f"products/{segment(product_id)}/listings/{segment(listing_id)}"
            f"/{collection}/{segment(str(body['id']))}"
        )
        return parsed(ListingMedia, self.request("PUT", path, json=dict(body), if_match=etag))

    def videos(self, product_id: str, listing_id: str) -> list[ListingVideo]:
        path = f"products/{segment(product_id)}/listings/{segment(listing_id)}/videos"
        return list(self._paged(path, ListingVideo))

    def create_video(
        self, product_id: str, listing_id: str, body: Mapping[str, Any]
    ) -> ListingVideo:
        """POST a video (its thumbnail's SAS URI comes back). Not idempotent: list first."""
        path = f"products/{segment(product_id)}/listings/{segment(listing_id)}/videos"
        return parsed(ListingVideo, self.request("POST", path, json=dict(body)))

    def put_video(
        self, product_id: str, listing_id: str, body: Mapping[str, Any], etag: str | None
    ) -> ListingVideo:
        path = (
            f"products/{segment(product_id)}/listings/{segment(listing_id)}"
            f"/videos/{segment(str(body['id']))}"
        )
        return parsed(ListingVideo, self.request("PUT", path, json=dict(body), if_match=etag))

    def delete_media(
        self, product_id: str, listing_id: str, collection: str, media_id: str
    ) -> None:
        path = (
            f"products/{segment(product_id)}/listings/{segment(listing_id)}"
            f"/{collection}/{segment(media_id)}"
        )
        self.request("DELETE", path)
