"""Packages and what package configurations may reference, per product type: an Azure
Application creates `AzureApplicationPackage`s that are processed after a while; a Business
Central offer creates main-app and library packages whose upload PUT answers `Processed` at
once; a configuration refuses references of the wrong type, unprocessed packages, and the
managed application's malformed fields, as the live service does."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import TYPE_CHECKING, Any

import httpx

from pcsim import shapes
from pcsim.uploads import Package
from pcsim.wire import json_response
from pcsim.world import Product

if TYPE_CHECKING:
    from pcsim.app import Route, Simulator
    from pcsim.ingestion import Ingestion

WRONG_TYPE = "The resourceType in the request body doesn't match the actual resource type"


class Packages:
    def __init__(self, sim: Simulator, api: Ingestion) -> None:
        self.sim = sim
        self.api = api

    def routes(self) -> list[Route]:
        pid = r"/v1.0/ingestion/products/(?P<pid>[^/]+)"
        return [
            ("GET", pid + r"/packages", self.list_packages),
            ("POST", pid + r"/packages", self.create_package),
            ("GET", pid + r"/packages/(?P<pkg>[^/]+)", self.get_package),
            ("PUT", pid + r"/packages/(?P<pkg>[^/]+)", self.put_package),
            ("DELETE", pid + r"/packages/(?P<pkg>[^/]+)", self.delete_package),
        ]

    def _package(self, product: Product, pkg: str) -> Package:
        package = product.packages.get(pkg)
        if package is None:
            self.api.refuse(404, f"Package {pkg} was not found.")
        return package

    def _view(self, package: Package) -> dict[str, Any]:
        return package.view(self.api.now(), self.api.world.profile, self.sim.base_url)

    def list_packages(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.api.product(pid)
        return self.api.page(request, [self._view(p) for p in product.packages.values()])

    def create_package(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.api.product(pid)
        lowered = {k.lower(): v for k, v in self.api.body(request).items()}
        file_name = str(lowered.get("filename") or "")
        if not re.fullmatch(r"[\w.-]{1,200}", file_name):
            return self.api.error(400, "fileName is required (letters, digits, . _ -).")
        allowed = shapes.package_types(product.resource_type)
        only = next(iter(allowed)) if len(allowed) == 1 else ""
        rtype = str(lowered.get("resourcetype") or only)  # one kind: it may go unnamed
        if rtype not in allowed:
            return self.api.error(
                400,
                f"{WRONG_TYPE}: {rtype or '(none)'} packages cannot "
                f"be created for a {product.resource_type} product.",
            )
        pkg_id = str(uuid.uuid4())
        package = Package(
            id=pkg_id,
            product_id=product.id,
            file_name=file_name,
            resource_type=rtype,
            sas_signature=hashlib.sha256(f"{pkg_id}{uuid.uuid4()}".encode()).hexdigest()[:32],
            fail=product.script.package_failure,
            instant=shapes.processed_on_upload(rtype),
        )
        if self.sim.sas_store is not None:
            package.sas_uri = self.sim.sas_store.sas_uri(product.id, pkg_id, file_name)
        product.packages[pkg_id] = package
        return json_response(201, self._view(package))

    def get_package(self, request: httpx.Request, pid: str, pkg: str) -> httpx.Response:
        package = self._package(self.api.product(pid), pkg)
        return json_response(200, self._view(package))

    def put_package(self, request: httpx.Request, pid: str, pkg: str) -> httpx.Response:
        package = self._package(self.api.product(pid), pkg)
        # If-Match is optional here (peers both send and omit it); checked when sent.
        etag = self._view(package)["@odata.etag"]
        refused = self.api.check_if_match(request, etag, f"Package {pkg}", required=False) or (
            self.api.mark_uploaded(request, package, "package")
        )
        if refused is not None:
            return refused
        return json_response(200, self._view(package))

    def delete_package(self, request: httpx.Request, pid: str, pkg: str) -> httpx.Response:
        product = self.api.product(pid)
        if product.packages.pop(pkg, None) is None:
            return self.api.error(404, f"Package {pkg} was not found.")
        return httpx.Response(204)

    def check_configuration(self, product: Product, body: dict[str, Any]) -> None:
        """Refuse (400) a package configuration the live service refuses."""
        if shapes.objects(body, "packageReferences") is None:
            self.api.refuse(400, shapes.NOT_OBJECTS)
        for ref in body.get("packageReferences") or []:
            package = product.packages.get(str(ref.get("value", "")))
            if package is None:
                self.api.refuse(400, f"Package {ref.get('value')} does not exist.")
            state = package.state(self.api.now(), self.api.world.profile)
            if state != "Processed":
                self.api.refuse(
                    400,
                    f"Package {package.id} is {state}; only a processed package can be referenced.",
                )
        types = {p.id.lower(): p.resource_type for p in product.packages.values()}
        problems = shapes.configuration_problems(body, types)
        if problems:
            self.api.refuse(400, "The request is invalid. " + "; ".join(problems))
