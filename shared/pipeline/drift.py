"""Drift: a module whose draft differs from what is live although the request leaves it alone
(someone edited the draft in Partner Center after the last publish).

What is live is what the newest live submission published: its resources name the instances
it published, read like any draft instance. Whether Partner Center gives a module a new draft
instance when a submission is made is not documented; where it keeps editing the published
instance itself, the draft is that instance and no drift can be told apart, so none is shown.
"""

from __future__ import annotations

from typing import Any

from shared.partnercenter.models import Draft, Submission
from shared.pipeline.drafts import DraftApi, instance_of, language_of
from shared.pipeline.submission import newest_submission

# The collections each module's instance holds (what a submission lists is a module).
MODULE_COLLECTIONS = {
    "Listing": ("listings",),
    "Property": ("properties",),
    "Availability": ("productavailabilities", "featureavailabilities"),
    "Package": ("packageconfigurations",),
}
# What differs between two instances of the same content: identity and bookkeeping.
_NOT_CONTENT = {"id", "@odata.etag", "odata.etag", "resourcetype", "validations"}


def live_submission(subs: list[Submission]) -> Submission | None:
    return newest_submission(
        [s for s in subs if (s.state.lower(), s.substate.lower()) == ("published", "instore")]
    )


def drift(
    api: DraftApi,
    product_id: str,
    subs: list[Submission],
    touched: set[str],
    plan_of: dict[str, str],
) -> list[dict[str, Any]]:
    """Fields whose draft differs from what is live, in modules not in `touched` (keys as a
    submission lists them: `Listing`, `Package@<variant>`)."""
    live = live_submission(subs)
    if live is None:
        return []
    published = [(None, r) for r in live.resources] + [
        (v.variant_id, r) for v in live.variant_resources for r in v.resources
    ]
    found: list[dict[str, Any]] = []
    for variant, resource in published:
        module = resource.type
        key = f"{module}@{variant}" if variant else module
        if module not in MODULE_COLLECTIONS or key in touched:
            continue
        try:
            draft_instance = instance_of(api, product_id, module, variant or None)
        except LookupError:  # the plan was deleted since
            continue
        if draft_instance.lower() == resource.value.lower():
            continue  # the service edits the published instance itself: nothing to compare
        for collection in MODULE_COLLECTIONS[module]:
            live_items = api.drafts(product_id, collection, resource.value)
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
