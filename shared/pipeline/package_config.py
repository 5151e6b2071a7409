"""What a package configuration should hold after the run: the fields of a plan's technical
configuration (by its subType) or the Business Central offer's package references.

Each function is `desired(current draft)`, so a redelivery that finds its own write already
there computes the same fields and writes nothing.
"""

from __future__ import annotations

from typing import Any

from shared.offer_types import OfferType
from shared.partnercenter.models import Draft
from shared.request_changes import OfferPackage, TechnicalConfiguration

AZURE_PACKAGE = "AzureApplicationPackage"


def plan_configuration(
    draft: Draft, tech: TechnicalConfiguration, package_id: str | None
) -> dict[str, Any]:
    """A plan's package configuration: version and package for every plan; the managed
    application's access and deployment fields where the request sets them (resolve has
    refused them on plans that do not have them)."""
    desired: dict[str, Any] = {}
    if tech.version:
        desired["version"] = tech.version
    if package_id:
        desired["packageReferences"] = [{"type": AZURE_PACKAGE, "value": package_id}]
    if tech.tenant_id:
        desired["publicAzureTenantID"] = tech.tenant_id.lower()
    if tech.authorizations is not None:
        desired["publicAzureAuthorizations"] = [
            {
                "principalID": a.principal_id.lower(),
                "roleDefinitionID": a.role_definition_id.lower(),
            }
            for a in tech.authorizations
        ]
    for name, value in (
        ("allowJitAccess", tech.allow_jit_access),
        ("deploymentMode", tech.deployment_mode),
        ("publisherManagementMode", tech.publisher_management_mode),
        ("customerAccessEnableState", tech.customer_access_enable_state),
    ):
        if value is not None:
            desired[name] = value
    control, data = tech.allowed_customer_actions, tech.allowed_data_actions
    if control is not None or data is not None:
        if control is not None:
            desired["allowedCustomerActions"] = list(control)
        if data is not None:
            desired["allowedDataActions"] = list(data)
        kept = (
            draft.body.get("allowedCustomerActions") or [],
            draft.body.get("allowedDataActions") or [],
        )
        desired["canEnableCustomerActions"] = bool(
            (control if control is not None else kept[0]) or (data if data is not None else kept[1])
        )
    return desired


def offer_configuration(
    draft: Draft, kind: OfferType, package: OfferPackage, app_id: str, library_id: str | None
) -> dict[str, Any]:
    """The offer-level (Business Central) configuration: the new main app; the new library
    package, none (an empty list), or the current one (libraries left out)."""
    app_type, library_type = kind.package_types["app"], kind.package_types["library"]
    replaced = {app_type} if package.libraries is None else {app_type, library_type}
    refs = [r for r in draft.records("packageReferences") if r.get("type") not in replaced]
    refs.append({"type": app_type, "value": app_id})
    if package.libraries and library_id:
        refs.append({"type": library_type, "value": library_id})
    return {"packageReferences": refs}


def version_key(text: str) -> tuple[int, ...] | None:
    """A dotted numeric version as a comparable tuple, or None when it is not one."""
    parts = text.split(".")
    if not 2 <= len(parts) <= 4 or not all(p.isdecimal() and len(p) <= 9 for p in parts):
        return None
    return tuple(int(p) for p in parts) + (0,) * (4 - len(parts))


def version_regression(draft: Draft, wanted: str) -> str | None:
    """Partner Center's current app version is newer than the one asked for: refused, as
    Microsoft's Business Central tooling refuses it."""
    current = str(draft.body.get("appVersion") or "")
    now, new = version_key(current), version_key(wanted)
    if now is not None and new is not None and new < now:
        return f"appVersion {wanted} is lower than the offer's current version {current}"
    return None
