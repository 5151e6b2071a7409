"""Bringing a draft resource to what the request asks for: read, compare, PUT only on a
difference, with the ETag it was read with; a stale ETag means someone else wrote meanwhile,
so read again and compare again."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from shared.partnercenter.errors import (
    Conflict,
    MalformedAnswer,
    PartnerCenterError,
    PreconditionFailed,
)
from shared.partnercenter.models import Branch, Draft

STALE_RETRIES = 3


class DraftApi(Protocol):
    def branches(self, product_id: str, module: str) -> list[Branch]: ...
    def drafts(
        self, product_id: str, collection: str, instance_id: str, expand: str | None = None
    ) -> list[Draft]: ...
    def put_draft(
        self,
        product_id: str,
        collection: str,
        draft: Draft,
        changes: Mapping[str, Any],
        expand: str | None = None,
    ) -> Draft: ...
    def create_listing(
        self, product_id: str, instance_id: str, body: Mapping[str, Any]
    ) -> Draft: ...


def differences(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The desired fields whose values differ (property names compared case-insensitively);
    keyed with the current resource's spelling."""
    spelled = {k.lower(): k for k in current}
    changed = {}
    for key, value in desired.items():
        name = spelled.get(key.lower(), key)
        if current.get(name) != value:
            changed[name] = value
    return changed


def instance_of(api: DraftApi, product_id: str, module: str, variant_id: str | None) -> str:
    """The current draft instance of a module, offer level or for one plan."""
    for branch in api.branches(product_id, module):
        if (branch.variant_id or None) == variant_id:
            return branch.current_draft_instance_id
    where = f"plan {variant_id}" if variant_id else "the offer"
    raise LookupError(f"no {module} branch for {where}")


def converge(
    api: DraftApi,
    product_id: str,
    collection: str,
    instance_id: str,
    desired: Callable[[Draft], dict[str, Any]],
    expand: str | None = None,
    language: str | None = None,
) -> bool:
    """Make the instance's resource match `desired(current)`; True when a PUT (or, for a
    listing language the offer lacks, a create) was needed."""
    for _ in range(STALE_RETRIES):
        resources = api.drafts(product_id, collection, instance_id, expand)
        current = pick(resources, language)
        if current is None and language is not None:
            api.create_listing(product_id, instance_id, new_listing(language, desired(EMPTY)))
            return True
        if current is None:
            raise LookupError(f"draft instance {instance_id} has no {collection}")
        changes = differences(current.body, desired(current))
        if not changes:
            return False
        try:
            write(api, product_id, collection, instance_id, current, changes, expand)
        except (PreconditionFailed, Conflict):
            continue  # written meanwhile: read again, compare again
        return True
    raise PreconditionFailed(
        412,
        f"{collection} {instance_id} kept changing under us",
        method="PUT",
        path=collection,
        request_id=None,
        client_request_id=None,
    )


class NotApplied(PartnerCenterError):
    """Partner Center answered a draft write with success but did not store what was asked
    (as the live service does with market changes sent without `$expand`): never reported as
    a success."""


def write(
    api: DraftApi,
    product_id: str,
    collection: str,
    instance_id: str,
    current: Draft,
    changes: Mapping[str, Any],
    expand: str | None,
) -> None:
    """PUT the changes, then check what was stored: the answer, and for modules with expanded
    parts (where silent no-ops are known) a fresh read of the module."""
    stored: Draft | None = api.put_draft(product_id, collection, current, changes, expand)
    if expand:
        stored = pick(api.drafts(product_id, collection, instance_id, expand))
    if stored is None:  # the module read back right after the write lists nothing
        raise MalformedAnswer(f"GET {collection}: the draft just written is not listed")
    missing = differences(stored.body, changes)
    if missing:
        raise NotApplied(
            f"Partner Center accepted the {collection} write but did not store "
            f"{', '.join(sorted(missing))} (draft instance {instance_id})",
            method="PUT",
            path=collection,
        )


# What a listing language the offer does not have yet holds.
EMPTY = Draft.model_validate({"id": "", "resourceType": "AzureListing", "@odata.etag": ""})


def language_of(draft: Draft) -> str:
    return str(draft.body.get("languageCode", "")).lower()


def pick(resources: list[Draft], language: str | None = None) -> Draft | None:
    """The listing in `language` (None when the offer has none in it); without a language,
    the en-us listing when there are several, otherwise the one resource."""
    if language is not None:
        found = next((d for d in resources if language_of(d) == language), None)
        if found is None and language == "en-us" and len(resources) == 1:
            return resources[0] if not language_of(resources[0]) else None  # unnamed: the one
        return found
    for draft in resources:
        if language_of(draft) == "en-us":
            return draft
    return resources[0] if resources else None


def new_listing(language: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The body that adds a listing language to a draft instance."""
    return {"resourceType": "AzureListing", "languageCode": language, **fields}
