"""Drift: fields whose draft differs from what is live (someone edited the draft in Partner
Center after the last publish), in every module the live submission published.

What is live of a module is what the newest live submission listing it published (a submission
lists only the modules it changes): its resources name the instances, read like any draft
instance. Whether Partner Center gives a module a new draft
instance when a submission is made is not documented; where it keeps editing the published
instance itself, the draft is that instance and no drift can be told apart, so none is shown.
"""

from __future__ import annotations

from typing import Any

from shared.partnercenter.models import Draft, Submission
from shared.pipeline.drafts import DraftApi, instance_of, language_of
from shared.pipeline.submission_state import newest_submission

# The collections each module's instance holds (what a submission lists is a module).
MODULE_COLLECTIONS = {
    "Listing": ("listings",),
    "Property": ("properties",),
    "Availability": ("productavailabilities", "featureavailabilities"),
    "Package": ("packageconfigurations",),
}
# What differs between two instances of the same content: identity and bookkeeping.
_NOT_CONTENT = {"id", "@odata.etag", "odata.etag", "resourcetype", "validations"}


LIVE_SUBSTATES = ("instore",)
PREVIEW_SUBSTATES = ("readytopublish", "instore")  # what preview shows: the newest published


def live_instances(
    subs: list[Submission], substates: tuple[str, ...] = LIVE_SUBSTATES
) -> dict[tuple[str | None, str], str]:
    """(variant or None, module) -> the instance live (or, with PREVIEW_SUBSTATES, in
    preview), from the newest such submission that lists the module."""
    live = [s for s in subs if s.state.lower() == "published" and s.substate.lower() in substates]
    found: dict[tuple[str | None, str], str] = {}
    while live:
        newest = newest_submission(live)
        assert newest is not None
        live.remove(newest)
        listed = [(None, r) for r in newest.resources] + [
            (v.variant_id or None, r) for v in newest.variant_resources for r in v.resources
        ]
        for variant, resource in listed:
            found.setdefault((variant, resource.type), resource.value)
    return found


def drift(
    api: DraftApi,
    product_id: str,
    subs: list[Submission],
    plan_of: dict[str, str],
) -> list[dict[str, Any]]:
    """Fields whose draft differs from what is live."""
    found: list[dict[str, Any]] = []
    for (variant, module), live_instance in sorted(
        live_instances(subs).items(), key=lambda item: (item[0][0] or "", item[0][1])
    ):
        if module not in MODULE_COLLECTIONS:
            continue
        try:
            draft_instance = instance_of(api, product_id, module, variant or None)
        except LookupError:  # the plan was deleted since
            continue
        if draft_instance.lower() == live_instance.lower():
            continue  # the service edits the published instance itself: nothing to compare
        for collection in MODULE_COLLECTIONS[module]:
            live_items = api.drafts(product_id, collection, live_instance)
            draft_items = api.drafts(product_id, collection, draft_instance)
            for language, (was, now) in _paired(live_items, draft_items).items():
                for name in sorted(set(was) | set(now)):
                    if name.lower() in _NOT_CONTENT or was.get(name) == now.get(name):
                        continue
                    found.append(
                        {
                            "module": module,
                            "plan": plan_of.get(variant or "") or variant,
                            "language": language,
                            "field": name,
                            "live": was.get(name),
                            "draft": now.get(name),
                        }
                    )
    return found


def _paired(
    live: list[Draft], draft: list[Draft]
) -> dict[str | None, tuple[dict[str, Any], dict[str, Any]]]:
    """Resources of the two instances side by side: listings by language, others in order."""
    if any(language_of(d) for d in live + draft):
        keys = sorted({language_of(d) for d in live + draft})
        by_live = {language_of(d): d.body for d in live}
        by_draft = {language_of(d): d.body for d in draft}
        return {k: (by_live.get(k, {}), by_draft.get(k, {})) for k in keys}
    pairs: dict[str | None, tuple[dict[str, Any], dict[str, Any]]] = {}
    for index in range(max(len(live), len(draft))):
        was = live[index].body if index < len(live) else {}
        now = draft[index].body if index < len(draft) else {}
        pairs[None if index == 0 else str(index)] = (was, now)
    return pairs
