"""Whether a request's changes fit the offer they are for: a field the offer's type (or a
plan's subType) does not have is refused before anything is created, with the type named."""

from __future__ import annotations

from shared.offer_types import OfferType
from shared.pipeline.package_config import version_key
from shared.publish_request import DraftChanges


def misfit(kind: OfferType, changes: DraftChanges, plan_types: dict[str, str]) -> str | None:
    """Why the changes cannot be made to an offer of this type, or None when they can."""
    label = f"{kind.label} offers ({kind.resource_type})"
    if changes.plans and not kind.has_plans:
        return f"{label} have no plans; remove changes.plans"
    version = changes.properties.app_version if changes.properties else None
    if version and kind.offer_packages and version_key(version) is None:
        return f"{label} need appVersion as 2 to 4 numbers with dots (such as 1.0.0.0)"
    if changes.availability is not None and not kind.offer_markets:
        return f"{label} set markets per plan (changes.plans.<plan>.availability)"
    if changes.package is not None and not kind.offer_packages:
        return (
            f"{label} take packages per plan (changes.plans.<plan>.technicalConfiguration"
            ".package), not changes.package"
        )
    for plan, plan_changes in sorted(changes.plans.items()):
        tech = plan_changes.technical_configuration
        if tech is None:
            continue
        sub_type = plan_types.get(plan, "")
        plan_kind = kind.kind(sub_type)
        if plan_kind is None:
            return (
                f"plan {plan} is of subType {sub_type or '(none)'}; pc-publisher cannot set "
                "its technical configuration"
            )
        extra = sorted(tech.given() - plan_kind.technical_fields)
        if extra:
            return (
                f"plan {plan} is a {plan_kind.sub_type} plan; its technical configuration "
                f"has no {', '.join(extra)}"
            )
    return None
