"""The admin API under /_admin (not part of Partner Center's surface): seed offers, script
failures, set faults, timings and token lifetime, move the clock, rotate secrets, and read the
request log and counters."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

from pcsim.faults import Faults
from pcsim.seed import PARTNER_CENTER_AUDIENCE
from pcsim.timing import Profile
from pcsim.wire import json_response
from pcsim.world import Script

if TYPE_CHECKING:
    from pcsim.app import Route, Simulator


class Control:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def routes(self) -> list[Route]:
        a = r"/_admin"
        return [
            ("GET", a + r"/health", self.health),
            ("GET", a + r"/config", self.config),
            ("GET", a + r"/requests", self.requests),
            ("GET", a + r"/stats", self.stats),
            ("POST", a + r"/clock", self.clock),
            ("PUT", a + r"/secrets/(?P<name>[^/]+)", self.put_secret),
            ("GET", a + r"/faults", self.get_faults),
            ("PUT", a + r"/faults", self.put_faults),
            ("DELETE", a + r"/faults", self.clear_faults),
            ("PUT", a + r"/timings", self.timings),
            ("PUT", a + r"/tokens", self.tokens),
            ("PUT", a + r"/paging", self.paging),
            ("POST", a + r"/offers", self.add_offer),
            ("PUT", a + r"/products/(?P<pid>[^/]+)/script", self.script),
            ("POST", a + r"/products/(?P<pid>[^/]+)/certified", self.certified),
            ("GET", a + r"/contract", self.contract),
            ("GET", a + r"/live", self.get_live),
            ("PUT", a + r"/live", self.put_live),
            ("PUT", a + r"/apps/(?P<client_id>[^/]+)/association", self.associate),
        ]

    def contract(self, request: httpx.Request) -> httpx.Response:
        """What of the simulator's answers contradicted the OpenAPI document so far."""
        checker = self.sim.contract
        if checker is None:
            return json_response(200, {"checking": False, "checked": 0, "problems": []})
        return json_response(
            200, {"checking": True, "checked": checker.checked, "problems": list(checker.found)}
        )

    def get_live(self, request: httpx.Request) -> httpx.Response:
        return json_response(200, self.sim.live.to_json())

    def put_live(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        if "regressionSeconds" in body:
            seconds = float(body.pop("regressionSeconds"))
            self.sim.live.regression_until = self.sim.world.clock.now() + seconds
        if "regressionUntil" in body:
            self.sim.live.regression_until = float(body.pop("regressionUntil"))
        try:
            self.sim.live.update(body)
        except ValueError as exc:
            return json_response(400, str(exc))
        return json_response(200, self.sim.live.to_json())

    def associate(self, request: httpx.Request, client_id: str) -> httpx.Response:
        """Add the app to (or remove it from) the Partner Center account."""
        app = self.sim.world.apps.get(client_id)
        if app is None:
            return json_response(404, f"no app {client_id}")
        wanted = bool(self._body(request).get("associated", True))
        app.audiences = [a for a in app.audiences if a != PARTNER_CENTER_AUDIENCE]
        if wanted:
            app.audiences.append(PARTNER_CENTER_AUDIENCE)
        return json_response(200, {"clientId": client_id, "associated": wanted})

    @staticmethod
    def _body(request: httpx.Request) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(request.content or b"{}")
        return data

    def health(self, request: httpx.Request) -> httpx.Response:
        return json_response(200, {"status": "ok"})

    def config(self, request: httpx.Request) -> httpx.Response:
        return json_response(
            200, {"tenantId": self.sim.world.tenant_id, "offers": self.sim.world.offers_config()}
        )

    def requests(self, request: httpx.Request) -> httpx.Response:
        since = int(request.url.params.get("since", "0"))
        log = self.sim.request_log()
        return json_response(200, {"value": log[since:], "count": len(log)})

    def stats(self, request: httpx.Request) -> httpx.Response:
        return json_response(200, self.sim.stats())

    def clock(self, request: httpx.Request) -> httpx.Response:
        self.sim.world.clock.offset += float(self._body(request).get("advanceSeconds", 0))
        return json_response(200, {"offsetSeconds": self.sim.world.clock.offset})

    def put_secret(self, request: httpx.Request, name: str) -> httpx.Response:
        body = self._body(request)
        self.sim.world.vault[name] = str(body["value"])
        for app in self.sim.world.apps.values():
            if app.vault_secret_name == name and body.get("rotateApp", True):
                app.secret = str(body["value"])
        return json_response(200, {"name": name})

    def get_faults(self, request: httpx.Request) -> httpx.Response:
        return json_response(200, self.sim.faults.to_json())

    def put_faults(self, request: httpx.Request) -> httpx.Response:
        self.sim.faults = Faults.from_json(self._body(request))
        return json_response(200, self.sim.faults.to_json())

    def clear_faults(self, request: httpx.Request) -> httpx.Response:
        self.sim.faults = Faults()
        return json_response(200, self.sim.faults.to_json())

    def timings(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        current = Profile.named(body["profile"]) if "profile" in body else self.sim.world.profile
        self.sim.world.profile = Profile(
            accept=float(body.get("accept", current.accept)),
            certify=float(body.get("certify", current.certify)),
            publish=float(body.get("publish", current.publish)),
            process_package=float(body.get("processPackage", current.process_package)),
        )
        return json_response(200, vars(self.sim.world.profile))

    def tokens(self, request: httpx.Request) -> httpx.Response:
        self.sim.identity.token_lifetime = int(self._body(request)["lifetimeSeconds"])
        return json_response(200, {"lifetimeSeconds": self.sim.identity.token_lifetime})

    def paging(self, request: httpx.Request) -> httpx.Response:
        self.sim.world.page_size = max(1, int(self._body(request)["pageSize"]))
        return json_response(200, {"pageSize": self.sim.world.page_size})

    def add_offer(self, request: httpx.Request) -> httpx.Response:
        product = self.sim.world.add_offer(self._body(request))
        return json_response(201, product.body())

    def script(self, request: httpx.Request, pid: str) -> httpx.Response:
        product = self.sim.world.products.get(pid)
        if product is None:
            return json_response(404, f"Product {pid} was not found.")
        body = self._body(request)
        product.script = Script.from_json(body)
        return json_response(200, vars(product.script))

    def certified(self, request: httpx.Request, pid: str) -> httpx.Response:
        """The certification of the product's submission in flight ends now (passed, or failed
        as scripted), however long it was to take: a test picks the moment the answer comes."""
        product = self.sim.world.products.get(pid)
        if product is None:
            return json_response(404, f"Product {pid} was not found.")
        sub = self.sim.world.in_flight(product)
        if sub is None:
            return json_response(409, f"Product {pid} has no submission in certification.")
        sub.end_certification(self.sim.world.clock.now(), self.sim.world.profile)
        return json_response(200, {"submission": sub.id})
