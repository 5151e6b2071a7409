"""What each product type looks like when the simulator creates it, and what the live service
accepts of its packages and package configurations (live-service notes §2-3).

Azure Application offers: plans (`AzureSkuVariant`, subType managed-application or
solution-template), each with a Package branch whose configuration type follows the subType,
and an offer-level Package branch. Business Central offers: no plans; one offer-level Package
branch whose configuration points at a main app and a library package; the upload PUT of a BC
package answers `Processed` at once. Other types exist (a VM offer lists like any product) but
have no publishing surface here, as in v1.
"""

from __future__ import annotations

import re
from typing import Any

BUSINESS_CENTRAL = "AzureDynamics365BusinessCentral"
AZURE_APPLICATION = "AzureApplication"
OFFER_MODULES = ("Availability", "Listing", "Property", "Package")
PLAN_MODULES = ("Availability", "Listing", "Package")
BC_APP = "Dynamics365BusinessCentralAddOnExtensionPackage"
BC_LIBRARY = "Dynamics365BusinessCentralAddOnLibraryExtensionPackage"
AZURE_PACKAGE = "AzureApplicationPackage"
CONFIGURATIONS = {
    "managed-application": "AzureManagedApplicationPackageConfiguration",
    "solution-template": "AzureSolutionTemplatePackageConfiguration",
    "offer:" + AZURE_APPLICATION.lower(): "AzureApplicationPackageConfiguration",
    "offer:" + BUSINESS_CENTRAL.lower(): "Dynamics365BusinessCentralPackageConfiguration",
}
# Package types each configuration may reference.
REFERENCES = {
    "AzureManagedApplicationPackageConfiguration": {AZURE_PACKAGE},
    "AzureSolutionTemplatePackageConfiguration": {AZURE_PACKAGE},
    "Dynamics365BusinessCentralPackageConfiguration": {BC_APP, BC_LIBRARY},
}
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
CHOICES = {
    "deploymentMode": ("Incremental", "Complete"),
    "publisherManagementMode": ("Managed", "NoAccess"),
    "customerAccessEnableState": ("Enabled", "Disabled"),
}


def package_types(product_type: str) -> set[str]:
    """Package resourceTypes a product of this type may create."""
    if product_type.lower() == BUSINESS_CENTRAL.lower():
        return {BC_APP, BC_LIBRARY}
    if product_type.lower() == AZURE_APPLICATION.lower():
        return {AZURE_PACKAGE}
    return set()


def processed_on_upload(package_type: str) -> bool:
    return package_type in (BC_APP, BC_LIBRARY)


def modules(product_type: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(offer-level modules, per-plan modules) of a product type."""
    if product_type.lower() == BUSINESS_CENTRAL.lower():
        return OFFER_MODULES, ()
    return OFFER_MODULES, PLAN_MODULES


def initial_draft(
    product_type: str, name: str, module: str, sub_type: str | None, plan: bool
) -> tuple[str, dict[str, Any]] | None:
    """The resource a module's draft instance holds when the offer (or plan) is created."""
    bc = product_type.lower() == BUSINESS_CENTRAL.lower()
    if module == "Listing":
        return "listings", {
            "resourceType": "AzureListing",
            "languageCode": "en-us",
            "title": name,
            "summary": f"{name} summary",
            "shortDescription": name,
            "description": f"{name} description",
            "publisherName": "Contoso",
            "keywords": [],
            "listingUris": [],
            "listingContacts": [],
        }
    if module == "Property":
        return "properties", {
            "resourceType": "AzureProperty",
            "industries": [],
            "categories": [],
            "leveledCategories": {},
            "termsOfUse": "Standard terms",
            "appVersion": "1.0.0.0" if bc else "1.0.0",
            "useEnterpriseContract": False,
        }
    if module == "Availability" and not plan:
        return "productavailabilities", {
            "resourceType": "ProductAvailability",
            "visibility": "Public",
            "enterpriseLicensing": "Online",
            "audiences": [{"type": "PreviewMarketplaceGroup", "values": []}],
        }
    if module == "Availability":
        return "featureavailabilities", feature_availability()
    if module == "Package":
        return "packageconfigurations", _configuration(product_type, sub_type, plan)
    return None


def offer_markets(product_type: str) -> bool:
    """Business Central keeps its market states on the offer-level Availability instance
    (read with featureAvailabilities/getByInstanceID), beside its ProductAvailability."""
    return product_type.lower() == BUSINESS_CENTRAL.lower()


def feature_availability() -> dict[str, Any]:
    return {
        "resourceType": "FeatureAvailability",
        "visibility": "Public",
        "marketStates": [{"marketCode": "US", "state": "Enabled"}],
        "priceSchedules": [],
        "trial": {"type": "NoTrial"},
        "subscriptionAudiences": [],
        "tenantAudiences": [],
        "isHidden": False,
    }


def _configuration(product_type: str, sub_type: str | None, plan: bool) -> dict[str, Any]:
    key = (sub_type or "managed-application") if plan else "offer:" + product_type.lower()
    rtype = CONFIGURATIONS.get(key, "AzureApplicationPackageConfiguration")
    if rtype == "Dynamics365BusinessCentralPackageConfiguration":
        return {"resourceType": rtype, "packageType": "AddOn", "packageReferences": []}
    if rtype == "AzureSolutionTemplatePackageConfiguration":
        return {"resourceType": rtype, "version": "1.0.0", "packageReferences": []}
    if rtype == "AzureManagedApplicationPackageConfiguration":
        return {
            "resourceType": rtype,
            "version": "1.0.0",
            "packageReferences": [],
            "allowJitAccess": False,
            "canEnableCustomerActions": False,
            "allowedCustomerActions": [],
            "allowedDataActions": [],
            "publicAzureTenantID": "",
            "publicAzureAuthorizations": [],
            "azureGovernmentAuthorizations": [],
            "policies": [],
            "publisherManagementMode": "Managed",
            "customerAccessEnableState": "Disabled",
            "deploymentMode": "Incremental",
        }
    return {
        "resourceType": rtype,
        "azureActiveDirectoryTenantID": "",
        "azureActiveDirectoryApplicationID": "",
    }


# What the service's model binding answers (400) for a list of something other than objects.
NOT_OBJECTS = "The request is invalid: a list holds something other than objects"


def objects(body: dict[str, Any], key: str) -> list[dict[str, Any]] | None:
    """The objects listed under `key` ([] when absent); None when it holds anything else."""
    value = body.get(key) or []
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    return None


def configuration_problems(body: dict[str, Any], package_type_of: dict[str, str]) -> list[str]:
    """What the live service refuses in a package configuration PUT: references to packages
    of the wrong type (or more than one of a Business Central kind), and the managed
    application's GUIDs, required tenant and enumerations. `package_type_of` maps the
    product's package ids to their types."""
    rtype = str(body.get("resourceType", ""))
    allowed = REFERENCES.get(rtype, set())
    problems: list[str] = []
    seen: set[str] = set()
    refs, auths = objects(body, "packageReferences"), objects(body, "publicAzureAuthorizations")
    if refs is None or auths is None:  # as the service's model binding refuses it
        return [NOT_OBJECTS]
    for ref in refs:
        kind = str(ref.get("type", ""))
        actual = package_type_of.get(str(ref.get("value", "")).lower())
        if kind not in allowed or (actual is not None and actual != kind):
            problems.append(
                f"packageReferences: {kind or '(none)'} cannot be referenced by {rtype}"
            )
        elif kind in seen and rtype.startswith("Dynamics365"):
            problems.append(f"packageReferences: only one {kind} may be referenced")
        seen.add(kind)
    if rtype != "AzureManagedApplicationPackageConfiguration":
        return problems
    for auth in auths:
        for key in ("principalID", "roleDefinitionID"):
            value = str(auth.get(key) or "")
            if not value:
                problems.append(f"publicAzureAuthorizations.{key}: Missing")
            elif not GUID.fullmatch(value):
                problems.append(f"publicAzureAuthorizations.{key}: Enter a valid GUID")
    if body.get("publicAzureAuthorizations") and not body.get("publicAzureTenantID"):
        problems.append("publicAzureTenantID: Missing")
    for key, values in CHOICES.items():
        if key in body and body[key] not in values:
            problems.append(f"{key}: must be one of {', '.join(values)}")
    return problems
