"""Odd bodies at every write route of the simulator, with the ids of a real offer: each is
answered (a 4xx where the service's model binding or validation refuses it), never with a
500, which a client takes for a transient fault and retries, and never by breaking the
offer for the calls after it. Seeded: each case is the same every run."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import httpx
import pytest

from pcsim.app import Simulator
from pcsim.seed import DEFAULT_SEED
from pcsim.timing import Profile
from pcsim.world import World
from tests.conftest import BASE, SimTokens

ODD: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    "",
    "x",
    [],
    {},
    [1],
    [None],
    {"a": 1},
    [{}],
    [[]],
    "caf\u00e9",
    "a\nb",
    "x" * 3000,
    [{"type": None, "value": 3}],
    10**30,
    "Public",
    "00000000-0000-0000-0000-000000000001",
]
MODULES = ("Listing", "Property", "Availability", "Package")
COLLECTIONS = ("listings", "properties", "featureAvailabilities", "packageConfigurations")


def names_in(data: Any, into: set[str]) -> set[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            into.add(key)
            names_in(value, into)
    elif isinstance(data, list):
        for value in data:
            names_in(value, into)
    return into


class Offer:
    """One seeded offer's ids, read as a client reads them, and the routes that write it."""

    def __init__(self, http: httpx.Client, rng: random.Random) -> None:
        self.rng = rng
        self.pid = rng.choice(http.get("products").json()["value"])["id"]
        p = f"products/{self.pid}"
        self.names = names_in(http.get(p).json(), set())
        self.ids: dict[str, list[str]] = {}
        for module in MODULES:
            for branch in http.get(f"{p}/branches/getByModule(module={module})").json()["value"]:
                self.ids.setdefault("inst", []).append(branch["currentDraftInstanceID"])
                if branch.get("variantID"):
                    self.ids.setdefault("plan", []).append(branch["variantID"])
        for inst in self.ids["inst"][:4]:
            found = http.get(f"{p}/listings/getByInstanceID(instanceID={inst})")
            for listing in found.json().get("value", []) if found.status_code == 200 else []:
                self.ids.setdefault("listing", []).append(listing["id"])
                names_in(listing, self.names)
        for package in http.get(f"{p}/packages").json()["value"]:
            self.ids.setdefault("package", []).append(package["id"])
            names_in(package, self.names)

    def pick(self, kind: str) -> str:
        return self.rng.choice(self.ids.get(kind) or ["none"])

    def routes(self) -> list[tuple[str, str]]:
        p, listing, inst = f"products/{self.pid}", self.pick("listing"), self.pick("inst")
        return [
            ("POST", "products"),
            ("POST", f"{p}/setup"),
            ("POST", f"{p}/variants"),
            ("PUT", f"{p}/variants/{self.pick('plan')}"),
            ("POST", f"{p}/listings/createWithInstanceID(instanceID={inst})"),
            *(("POST", f"{p}/listings/{listing}/{kind}") for kind in ("images", "videos")),
            ("POST", f"{p}/cosellassets"),
            ("PUT", f"{p}/coselllisting/{inst}"),
            ("POST", f"{p}/leadconfiguration"),
            ("PUT", f"{p}/supplementalcontents/{inst}"),
            ("POST", f"{p}/properties"),
            ("POST", f"{p}/resellerconfiguration"),
            ("POST", f"{p}/packages"),
            ("PUT", f"{p}/packages/{self.pick('package')}"),
            ("POST", f"{p}/submissions"),
            *(("PUT", f"{p}/{c}/{inst}") for c in COLLECTIONS),
            ("PUT", f"{p}/listings/{listing}"),
        ]

    def body(self, depth: int = 0) -> Any:
        roll = self.rng.random()
        if depth < 3 and roll < 0.3:
            keys = self.rng.sample(sorted(self.names), min(len(self.names), self.rng.randint(1, 6)))
            return {key: self.body(depth + 1) for key in keys}
        if depth < 3 and roll < 0.4:
            return [self.body(depth + 1) for _ in range(self.rng.randint(0, 3))]
        return copy.deepcopy(self.rng.choice(ODD))


@pytest.mark.parametrize("first", range(0, 120, 40))
def test_odd_bodies_are_answered_never_with_a_500(first: int) -> None:
    for seed in range(first, first + 40):
        rng = random.Random(seed)
        http = _client()
        offer = Offer(http, rng)
        for _ in range(6):
            method, path = rng.choice(offer.routes())
            body = offer.body(1) if rng.random() < 0.7 else offer.body()
            answer = http.request(method, path, json=body)
            assert answer.status_code < 500, (seed, method, path, answer.text[:200])
        assert http.get(f"products/{offer.pid}").status_code == 200


@pytest.mark.parametrize("levels", [64, 65, 5000])
def test_a_body_nested_past_the_services_depth_is_a_400(levels: int) -> None:
    """The service's serializer reads 64 levels (System.Text.Json's default MaxDepth), and
    binds the body before its action looks anything up; Python's json recursed once a level,
    and 5,000 raised a RecursionError inside the simulator."""
    http = _client()
    offer = Offer(http, random.Random(0))
    nested = b"[" * (levels - 1) + b"]" * (levels - 1)  # inside the body's own object
    content = b'{"resourceType": "AzureListing", "x": ' + nested + b"}"
    answers = [http.request(method, path, content=content) for method, path in offer.routes()]
    assert all(a.status_code < 500 for a in answers), [a.text[:200] for a in answers]
    too_deep = ["maximum configured depth of 64" in a.text for a in answers]
    assert too_deep == [levels == 65] * len(answers)
    if levels > 64:  # a plan this offer has none of included: the body is read first
        assert {a.status_code for a in answers} == {400}


def _client(world: World | None = None) -> httpx.Client:
    """A simulator of `world` (a fresh one of the default seed), called as a client calls it."""
    sim = Simulator(world or _world(), BASE)
    return httpx.Client(
        transport=httpx.MockTransport(sim.transport),
        base_url=f"{BASE}/v1.0/ingestion",
        headers={
            "Authorization": f"Bearer {SimTokens(sim).token()}",
            "If-Match": "*",
            "Content-Type": "application/json",
        },
    )


def test_a_token_request_whose_form_is_no_utf8_is_a_400() -> None:
    """Entra's stand-in read the form as UTF-8 and raised on anything else (a 500)."""
    world = _world()
    sim = Simulator(world, BASE)
    url = f"{BASE}/{world.tenant_id}/oauth2/v2.0/token"
    for form in (b"grant_type=client_credentials&client_secret=\xff\xfe", b"\x80\x81"):
        answer = sim.transport(httpx.Request("POST", url, content=form))
        assert answer.status_code == 400 and "error" in answer.json(), form


def test_a_block_list_naming_a_block_never_put_is_refused_as_azure_refuses_it() -> None:
    """The blob stand-in took a missing block (or an id that is no UTF-8, which raised) for
    an empty one and stored a shorter file; Azure refuses the list."""
    world = _world()
    http = _client(world)
    pid = next(p.id for p in world.products.values() if p.resource_type == "AzureApplication")
    made = http.post(
        f"products/{pid}/packages",
        json={"resourceType": "AzureApplicationPackage", "fileName": "app.zip"},
    )
    sas = httpx.URL(made.json()["fileSasUri"])
    block = sas.copy_merge_params({"comp": "block", "blockid": "YQ=="})
    assert http.put(block, content=b"a" * 10).status_code == 201
    listing = sas.copy_merge_params({"comp": "blocklist"})
    for named in (b"Yg==", b"\xff\xfe"):
        xml = b"<BlockList><Latest>YQ==</Latest><Latest>" + named + b"</Latest></BlockList>"
        refused = http.put(listing, content=xml)
        assert refused.status_code == 400 and "InvalidBlockList" in refused.text, named
    xml = b"<BlockList><Latest>YQ==</Latest></BlockList>"
    assert http.put(listing, content=xml).status_code == 201
    package = http.get(f"products/{pid}/packages/{made.json()['id']}").json()
    assert package["fileSize"] == 10


def _world() -> World:
    """A fresh world of the default seed, its waits instant."""
    return World(json.loads(json.dumps(DEFAULT_SEED)), Profile(accept=0, certify=0, publish=0))
