"""A listing's uploaded files: images, assets (supporting documents) and videos (a thumbnail
uploaded, the video streamed from its address), each with one life: created with a SAS to
upload to, marked Uploaded, then Processed a moment later."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import httpx

from pcsim.ingestion import INGESTION
from pcsim.uploads import ListingImage
from pcsim.wire import json_response, param
from pcsim.world import Product

if TYPE_CHECKING:
    from pcsim.app import Route, Simulator
    from pcsim.ingestion import Ingestion

# A listing's uploaded files by collection.
MEDIA = {"images": "ListingImage", "assets": "ListingAsset", "videos": "ListingVideo"}


class ListingMedia:
    def __init__(self, sim: Simulator, ingestion: Ingestion) -> None:
        self.sim = sim
        self.api = ingestion

    def routes(self) -> list[Route]:
        pid = INGESTION + r"/products/(?P<pid>[^/]+)"
        media = pid + r"/listings/(?P<lid>[^/()]+)/(?P<kind>images|assets|videos)"
        return [
            ("GET", media, self.list_images),
            ("POST", media, self.create_image),
            ("GET", media + r"/(?P<img>[^/]+)", self.get_image),
            ("PUT", media + r"/(?P<img>[^/]+)", self.put_image),
            ("DELETE", media + r"/(?P<img>[^/]+)", self.delete_image),
        ]

    def _listing(self, pid: str, lid: str) -> Product:
        product = self.api.product(pid)
        self.api.draft(product, "listings", lid)  # refuses an unknown listing
        return product

    def _image_view(
        self, request: httpx.Request, image: ListingImage, with_sas: bool = False
    ) -> dict[str, Any]:
        expand = param(request, "$expand").lower()
        return image.view(
            self.api.now(),
            self.api.world.profile,
            self.sim.base_url,
            with_sas or "filesasuri" in expand,
        )

    def list_images(self, request: httpx.Request, pid: str, lid: str, kind: str) -> httpx.Response:
        product = self._listing(pid, lid)
        images = [
            self._image_view(request, i)
            for i in product.images.values()
            if i.listing_id.lower() == lid.lower() and i.resource_type == MEDIA[kind.lower()]
        ]
        return json_response(200, {"value": images})

    def create_image(self, request: httpx.Request, pid: str, lid: str, kind: str) -> httpx.Response:
        product = self._listing(pid, lid)
        body = self.api.body(request)
        lowered = {k.lower(): v for k, v in body.items()}
        video = MEDIA[kind.lower()] == "ListingVideo"
        if video:  # the file is the thumbnail's; the video streams from its address
            thumbnail = {k.lower(): v for k, v in dict(lowered.get("thumbnail") or {}).items()}
            lowered = {**lowered, "filename": thumbnail.get("filename"), "type": "Thumbnail"}
            if not str(lowered.get("streaminguri") or "").startswith("https://"):
                return self.api.error(400, "streamingUri is required.")
        file_name = str(lowered.get("filename") or "")
        file_type = str(lowered.get("type") or "")
        if not re.fullmatch(r"[\w.-]{1,200}", file_name) or not file_type:
            return self.api.error(400, "fileName and type are required.")
        image_id = str(uuid.uuid4())
        image = ListingImage(
            id=image_id,
            product_id=product.id,
            listing_id=lid,
            file_name=file_name,
            type=file_type,
            order=int(lowered.get("order") or 0),
            sas_signature=uuid.uuid4().hex,
            resource_type=MEDIA[kind.lower()],
            title=str(thumbnail.get("title") or "") if video else "",
            streaming_uri=str(lowered.get("streaminguri") or "") if video else "",
        )
        product.images[image_id] = image
        return json_response(201, self._image_view(request, image, with_sas=True))

    def _image(self, pid: str, lid: str, kind: str, img: str) -> tuple[Product, ListingImage]:
        product = self._listing(pid, lid)
        image = product.images.get(img)
        if (
            image is None
            or image.listing_id.lower() != lid.lower()
            or image.resource_type != MEDIA[kind.lower()]
        ):
            self.api.refuse(404, f"{MEDIA[kind.lower()]} {img} was not found.")
        assert image is not None
        return product, image

    def get_image(
        self, request: httpx.Request, pid: str, lid: str, kind: str, img: str
    ) -> httpx.Response:
        found = self._image(pid, lid, kind, img)
        return json_response(200, self._image_view(request, found[1]))

    def put_image(
        self, request: httpx.Request, pid: str, lid: str, kind: str, img: str
    ) -> httpx.Response:
        image = self._image(pid, lid, kind, img)[1]
        state = None
        if image.resource_type == "ListingVideo":  # the thumbnail is what is uploaded
            body = {k.lower(): v for k, v in self.api.body(request).items()}
            nested: dict[str, Any] = dict(body.get("thumbnail") or {})
            state = next((v for k, v in nested.items() if k.lower() == "state"), None)
        refused = self.api.check_if_match(request, image.etag, f"{image.resource_type} {img}") or (
            self.api.mark_uploaded(request, image, kind.lower().rstrip("s"), state=state)
        )
        if refused is not None:
            return refused
        order = next((v for k, v in self.api.body(request).items() if k.lower() == "order"), None)
        if isinstance(order, int) and not isinstance(order, bool):
            image.order = order
        return json_response(200, self._image_view(request, image))

    def delete_image(
        self, request: httpx.Request, pid: str, lid: str, kind: str, img: str
    ) -> httpx.Response:
        found = self._image(pid, lid, kind, img)
        del found[0].images[img]
        return httpx.Response(204)
