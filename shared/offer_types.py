"""What each kind of offer is to the pipeline: one table, read by every stage.

The v1 ingestion API publishes two product types. Azure Application offers keep their packages
per plan, and a plan's `subType` decides its package configuration; Business Central offers
keep one package configuration at offer level that points at a main app and its library apps,
and their version lives in the Property module. Everything a stage needs to tell the two apart
is a row here; stages never compare resource types themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

AZURE_APPLICATION = "AzureApplication"
BUSINESS_CENTRAL = "AzureDynamics365BusinessCentral"
PRODUCT_INGESTION = "the Product Ingestion API (graph.microsoft.com/rp/product-ingestion)"

# Request fields of a plan's technicalConfiguration, by what they mean to Partner Center.
COMMON_TECHNICAL = frozenset({"version", "package"})
MANAGED_TECHNICAL = COMMON_TECHNICAL | {
    "tenantId",
    "authorizations",
    "allowJitAccess",
    "deploymentMode",
    "publisherManagementMode",
    "customerAccessEnableState",
    "allowedCustomerActions",
    "allowedDataActions",
}


@dataclass(frozen=True)
class PlanKind:
    """A plan `subType`: its package configuration and what a request may set on it."""

    sub_type: str
    configuration: str  # the package configuration's resourceType
    technical_fields: frozenset[str]


@dataclass(frozen=True)
class OfferType:
    resource_type: str
    label: str
    offer_modules: tuple[str, ...]
    plan_modules: tuple[str, ...]
    # Package resourceType by role: "plan" (one per plan), or "app" and "library" (offer level).
    package_types: Mapping[str, str]
    # The offer-level package configuration's resourceType, when packages sit at offer level.
    offer_configuration: str | None = None
    plan_kinds: Mapping[str, PlanKind] = field(default_factory=dict)
    # The upload PUT answers Processed (no polling), as Business Central packages do.
    processed_on_upload: bool = False
    # Modules listed in every submission (the service refuses submissions without them).
    always_submitted: tuple[str, ...] = ()
    # Offer-level modules listed whenever a plan's module of the same name is.
    with_plan_modules: tuple[str, ...] = ()
    # Markets are set on the offer (its Availability instance's FeatureAvailability), not
    # per plan.
    offer_markets: bool = False

    @property
    def has_plans(self) -> bool:
        return bool(self.plan_modules)

    @property
    def offer_packages(self) -> bool:
        return self.offer_configuration is not None

    def kind(self, sub_type: str) -> PlanKind | None:
        return self.plan_kinds.get(sub_type.lower())

    def submitted_beside(self, changed: set[str]) -> set[str]:
        """Modules a submission lists besides the changed ones."""
        named = {key.split("@")[0] for key in changed if "@" in key}
        return {*self.always_submitted, *(m for m in self.with_plan_modules if m in named)}


_MANAGED = PlanKind(
    "managed-application", "AzureManagedApplicationPackageConfiguration", MANAGED_TECHNICAL
)
_TEMPLATE = PlanKind(
    "solution-template", "AzureSolutionTemplatePackageConfiguration", COMMON_TECHNICAL
)

OFFER_TYPES: Mapping[str, OfferType] = MappingProxyType(
    {
        AZURE_APPLICATION.lower(): OfferType(
            resource_type=AZURE_APPLICATION,
            label="Azure Application",
            offer_modules=("Availability", "Listing", "Property", "Package"),
            plan_modules=("Availability", "Listing", "Package"),
            package_types=MappingProxyType({"plan": "AzureApplicationPackage"}),
            plan_kinds=MappingProxyType({k.sub_type: k for k in (_MANAGED, _TEMPLATE)}),
            always_submitted=("ResellerConfiguration",),
            with_plan_modules=("Package",),
        ),
        BUSINESS_CENTRAL.lower(): OfferType(
            resource_type=BUSINESS_CENTRAL,
            label="Business Central",
            offer_modules=("Availability", "Listing", "Property", "Package"),
            plan_modules=(),
            package_types=MappingProxyType(
                {
                    "app": "Dynamics365BusinessCentralAddOnExtensionPackage",
                    "library": "Dynamics365BusinessCentralAddOnLibraryExtensionPackage",
                }
            ),
            offer_configuration="Dynamics365BusinessCentralPackageConfiguration",
            processed_on_upload=True,
            offer_markets=True,
        ),
    }
)

# Product types the v1 API lists but cannot publish, and what publishes them instead.
ELSEWHERE: Mapping[str, str] = MappingProxyType(
    {
        "azurevirtualmachine": PRODUCT_INGESTION,
        "azurethirdpartyvirtualmachine": PRODUCT_INGESTION,
        "azurecontainer": PRODUCT_INGESTION,
        "softwareasaservice": PRODUCT_INGESTION,
        "consultingservice": PRODUCT_INGESTION,
        "managedservice": PRODUCT_INGESTION,
        "iotedgemodule": PRODUCT_INGESTION,
        "powerbiapp": PRODUCT_INGESTION,
        "powerbivisual": PRODUCT_INGESTION,
        "dynamics365forcustomerengagement": PRODUCT_INGESTION,
        "dynamics365foroperations": PRODUCT_INGESTION,
    }
)


class UnsupportedOffer(Exception):
    """The product is of a type pc-publisher (the v1 API) cannot publish; says what can."""


def offer_type(resource_type: str) -> OfferType:
    """The row for a product's `resourceType`, or UnsupportedOffer naming the right API."""
    found = OFFER_TYPES.get(resource_type.lower())
    if found is not None:
        return found
    where = ELSEWHERE.get(resource_type.lower(), PRODUCT_INGESTION)
    raise UnsupportedOffer(
        f"offers of type {resource_type or 'unknown'} are not published through the v1 "
        f"ingestion API; use {where}"
    )


def of_run(recorded: str) -> OfferType:
    """The type a run recorded at resolve (runs recorded before types were: Azure
    Application, the only type there was)."""
    return offer_type(recorded or AZURE_APPLICATION)
