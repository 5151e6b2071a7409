"""Uploaded files: packages and a listing's images, assets and videos, each with a SAS to upload
to, marked Uploaded by the client, then Processed once the profile's processing time passed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pcsim.seed import derived_id
from pcsim.timing import Profile


@dataclass
class Package:
    id: str
    product_id: str
    file_name: str
    resource_type: str
    sas_signature: str
    uploaded: int | None = None  # bytes in the blob
    marked_uploaded: float | None = None
    fail: bool = False
    blocks: dict[str, bytes] = field(default_factory=dict)
    version: int = 1
    sas_uri: str | None = None  # a real blob store's SAS (pcsim.sas_store), if any
    instant: bool = False  # processed as the upload is marked (Business Central packages)

    def state(self, now: float, profile: Profile) -> str:
        if self.marked_uploaded is None:
            return "PendingUpload"
        if not self.instant and now - self.marked_uploaded < profile.process_package:
            return "InProcessing"
        return "ProcessFailed" if self.fail else "Processed"

    def view(self, now: float, profile: Profile, base_url: str) -> dict[str, Any]:
        state = self.state(now, profile)
        body: dict[str, Any] = {
            "resourceType": self.resource_type,
            "id": self.id,
            "fileName": self.file_name,
            "state": state,
            "isEmpty": self.uploaded in (None, 0),
            "fileSize": self.uploaded or 0,
            "fileSasUri": self.sas_uri
            or (
                f"{base_url}/_blobs/{self.product_id}/{self.id}/{self.file_name}"
                f"?sv=2020-08-04&sr=b&sp=cw&sig={self.sas_signature}"
            ),
            "@odata.etag": '"' + derived_id("etag", self.id, str(self.version)) + '"',
            "validationItems": [],
        }
        if state == "ProcessFailed":
            body["validationItems"] = [
                {
                    "errorCode": "InvalidPackage",
                    "severity": "Error",
                    "message": "mainTemplate.json is missing from the package root.",
                    "resource": self.file_name,
                }
            ]
        return body


@dataclass
class ListingImage:
    """A listing image slot: uploaded through its SAS URI like a package."""

    id: str
    product_id: str
    listing_id: str
    file_name: str
    type: str
    order: int
    sas_signature: str
    uploaded: int | None = None
    marked_uploaded: float | None = None
    blocks: dict[str, bytes] = field(default_factory=dict)
    version: int = 1
    resource_type: str = "ListingImage"  # or ListingAsset (a document), ListingVideo
    title: str = ""  # a video's (its thumbnail's title)
    streaming_uri: str = ""  # a video's address

    @property
    def etag(self) -> str:
        return '"' + derived_id("etag", self.id, str(self.version)) + '"'

    def view(self, now: float, profile: Profile, base_url: str, with_sas: bool) -> dict[str, Any]:
        if self.marked_uploaded is None:
            state = "PendingUpload"
        elif now - self.marked_uploaded < profile.process_package:
            state = "InProcessing"
        else:
            state = "Processed"
        body: dict[str, Any] = {
            "resourceType": self.resource_type,
            "id": self.id,
            "fileName": self.file_name,
            "type": self.type,
            "state": state,
            "@odata.etag": self.etag,
        }
        if self.resource_type == "ListingImage":
            body["order"] = self.order
        if with_sas:
            body["fileSasUri"] = (
                f"{base_url}/_blobs/{self.product_id}/{self.id}/"
                f"{self.file_name}?sv=2020-08-04&sr=b&sp=cw"
                f"&sig={self.sas_signature}"
            )
        if self.resource_type == "ListingVideo":  # what is uploaded is its thumbnail
            moved = ("fileName", "state", "fileSasUri")
            thumbnail = {k: body.pop(k) for k in moved if k in body}
            body.pop("type")
            body["thumbnail"] = {"title": self.title, **thumbnail}
            body["streamingUri"] = self.streaming_uri
            body["state"] = thumbnail["state"]
        return body
