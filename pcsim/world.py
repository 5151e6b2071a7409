"""The simulator's state: offers, plans, branches with draft instances, submissions
(pcsim.submission_state) and uploads (pcsim.uploads), shaped as the ingestion API returns
them. States are computed from the clock on every read, so a test moves time instead of
sleeping."""

from __future__ import annotations

import copy
import dataclasses
import secrets as pysecrets
import threading
from dataclasses import dataclass, field
from typing import Any

from pcsim import shapes
from pcsim.seed import derived_id
from pcsim.submission_state import Submission
from pcsim.timing import Clock, Profile
from pcsim.uploads import ListingImage, Package


@dataclass
class App:
    name: str
    client_id: str
    secret: str
    audiences: list[str]
    vault_secret_name: str | None = None
    tenant_id: str = ""


@dataclass
class Branch:
    id: str
    module: str
    draft_instance_id: str
    variant_id: str | None = None

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "resourceType": "Branch",
            "id": self.id,
            "friendlyName": "Main",
            "type": "Main",
            "module": self.module,
            "currentDraftInstanceID": self.draft_instance_id,
        }
        if self.variant_id:
            data["variantID"] = self.variant_id
        return data


@dataclass
class Variant:
    id: str
    plan_id: str
    name: str
    sub_type: str = "managed-application"

    def body(self) -> dict[str, Any]:
        return {
            "resourceType": "AzureSkuVariant",
            "id": self.id,
            "state": "Active",
            "friendlyName": self.name,
            "externalID": self.plan_id,
            "cloudAvailabilities": ["public-azure"],
            "subType": self.sub_type,
            "@odata.etag": f'"{derived_id("etag", self.id)}"',
        }


@dataclass
class Product:
    id: str
    offer_id: str
    name: str
    resource_type: str
    variants: list[Variant] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    drafts: dict[str, Draft] = field(default_factory=dict)
    packages: dict[str, Package] = field(default_factory=dict)
    images: dict[str, ListingImage] = field(default_factory=dict)
    reseller: dict[str, Any] = field(default_factory=dict)
    script: Script = field(default_factory=lambda: Script())
    package_type: str = "AddOn"  # Business Central: AddOn, or Connect (no packages)

    def body(self) -> dict[str, Any]:
        return {
            "resourceType": self.resource_type,
            "name": self.name,
            "id": self.id,
            "externalIDs": [{"type": "AzureOfferId", "value": self.offer_id}],
            "isModularPublishing": True,
        }


@dataclass
class Script:
    """Failures scripted for one product."""

    validation_failure: bool = False
    certification_failure: bool = False
    package_failure: bool = False
    certification_hang: bool = False
    # This offer's certification takes this long, not the timing profile's: offers are
    # certified in their own time, so a batch's waits end apart.
    certification_seconds: float | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Script:
        seconds = body.get("certificationSeconds")
        return cls(
            validation_failure=bool(body.get("validationFailure")),
            certification_failure=bool(body.get("certificationFailure")),
            certification_hang=bool(body.get("certificationHang")),
            package_failure=bool(body.get("packageFailure")),
            certification_seconds=None if seconds is None else max(0.0, float(seconds)),
        )


@dataclass
class Draft:
    """One editable resource of a draft instance (a listing, a property, an availability...)."""

    id: str
    collection: str  # lower case: listings, properties, productavailabilities, ...
    instance_id: str
    body: dict[str, Any]
    version: int = 1

    @property
    def etag(self) -> str:
        # Cosmos-style, with its own quotes, as the live service sends it.
        return '"' + derived_id("etag", self.id, str(self.version)) + '"'

    def view(self) -> dict[str, Any]:
        return {**self.body, "id": self.id, "@odata.etag": self.etag}


class World:
    """All simulator state, guarded by one lock."""

    def __init__(self, seed: dict[str, Any], profile: Profile) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.profile = profile
        self.tenant_id: str = seed["tenantId"]
        self.apps: dict[str, App] = {}
        self.vault: dict[str, str] = dict(seed.get("secrets", {}))
        self.products: dict[str, Product] = {}
        self.page_size = int(seed.get("pageSize", 10))
        self._next_submission = 1152921505695125000
        for app in seed["apps"]:
            self.add_app(app)
        for offer in seed.get("offers", []):
            self.add_offer(offer)

    def add_app(self, spec: dict[str, Any]) -> App:
        app = App(
            name=spec["name"],
            client_id=spec["clientId"],
            secret=spec.get("secret") or pysecrets.token_urlsafe(24),
            audiences=list(spec["audiences"]),
            vault_secret_name=spec.get("vaultSecretName"),
        )
        app.tenant_id = spec.get("tenantId") or self.tenant_id
        self.apps[app.client_id] = app
        if app.vault_secret_name:
            self.vault[app.vault_secret_name] = app.secret
        return app

    def add_offer(self, spec: dict[str, Any]) -> Product:
        offer_id = spec["offerId"]
        pid = spec.get("productId") or derived_id("product", offer_id)
        product = Product(
            id=pid,
            offer_id=offer_id,
            name=spec.get("name", offer_id),
            resource_type=spec.get("resourceType", "AzureApplication"),
        )
        offer_modules, _ = shapes.modules(product.resource_type)
        for module in offer_modules:
            self._add_branch(product, module, None, spec.get("listing", {}))
        for plan in spec.get("plans", []):
            plan_id, sub_type = (
                (plan, None) if isinstance(plan, str) else (plan["planId"], plan.get("subType"))
            )
            self.add_plan(product, plan_id, plan_id.title(), sub_type or "managed-application")
        product.package_type = str(spec.get("packageType", "AddOn"))
        script = spec.get("script", {})
        product.script = Script.from_json(script)
        self.products[pid] = product
        return product

    def add_plan(self, product: Product, plan_id: str, name: str, sub_type: str) -> Variant:
        variant = Variant(
            id=derived_id("variant", product.id, plan_id),
            plan_id=plan_id,
            name=name,
            sub_type=sub_type,
        )
        product.variants.append(variant)
        for module in shapes.modules(product.resource_type)[1]:
            self._add_branch(product, module, variant, {})
        return variant

    def _add_branch(
        self, product: Product, module: str, variant: Variant | None, listing: dict[str, Any]
    ) -> None:
        parts = (product.id, variant.plan_id, module) if variant else (product.id, module)
        branch = Branch(
            id=derived_id("branch", *parts),
            module=module,
            draft_instance_id=derived_id("draft", *parts),
            variant_id=variant.id if variant else None,
        )
        product.branches.append(branch)
        sub_type = variant.sub_type if variant else None
        draft = shapes.initial_draft(
            product.resource_type, product.name, module, sub_type, plan=variant is not None
        )
        if draft is not None:
            collection, body = draft
            if collection == "listings" and variant is None:
                body.update(listing)
            did = derived_id("resource", branch.draft_instance_id)
            product.drafts[did] = Draft(did, collection, branch.draft_instance_id, body)
        if (
            module == "Availability"
            and variant is None
            and shapes.offer_markets(product.resource_type)
        ):
            did = derived_id("resource", branch.draft_instance_id, "featureavailabilities")
            body = shapes.feature_availability()
            product.drafts[did] = Draft(
                did, "featureavailabilities", branch.draft_instance_id, body
            )

    def new_submission_id(self) -> str:
        self._next_submission += 1
        return str(self._next_submission)

    def in_flight(self, product: Product) -> Submission | None:
        now = self.clock.now()
        for sub in product.submissions:
            if sub.validation_errors:
                continue
            state, substate, _ = sub.status(now, self.profile)
            if (state == "InProgress" and substate in ("InDraft", "Submitted")) or (
                state == "Published" and substate == "Publishing"
            ):
                return sub
        return None

    def fork_drafts(self, product: Product, submitted: dict[str, Any]) -> None:
        """The instances a submission lists are its own from now on: each of their branches
        gets a new draft instance holding a copy (draftAfterSubmit=new)."""
        lowered = {k.lower(): v for k, v in submitted.items()}
        refs = list(lowered.get("resources") or [])
        for group in lowered.get("variantresources") or []:
            refs += {k.lower(): v for k, v in group.items()}.get("resources") or []
        listed = {str({k.lower(): v for k, v in r.items()}.get("value", "")).lower() for r in refs}
        for branch in product.branches:
            old = branch.draft_instance_id
            if old.lower() not in listed:
                continue
            new = derived_id("draft", old, str(len(product.submissions)))
            for draft in [d for d in product.drafts.values() if d.instance_id == old]:
                did = derived_id("resource", new, draft.id)
                product.drafts[did] = Draft(did, draft.collection, new, copy.deepcopy(draft.body))
                for image in [
                    i for i in product.images.values() if i.listing_id.lower() == draft.id.lower()
                ]:
                    iid = derived_id("image", did, image.id)
                    product.images[iid] = dataclasses.replace(image, id=iid, listing_id=did)
            branch.draft_instance_id = new

    def instance_modules(self, product: Product) -> dict[str, tuple[str, str | None]]:
        """Draft instance id -> (module, variant id) for everything a submission may list."""
        found = {b.draft_instance_id.lower(): (b.module, b.variant_id) for b in product.branches}
        found[f"{product.id}-resellerinstance"] = ("ResellerConfiguration", None)
        return found

    def offers_config(self) -> list[dict[str, Any]]:
        return [
            {
                "productId": p.id,
                "offerId": p.offer_id,
                "plans": [{"variantId": v.id, "planId": v.plan_id} for v in p.variants],
            }
            for p in self.products.values()
        ]
