"""Resolving the offer: find the product and plans, take the offer's turn, and refuse to
start beside a submission in flight."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from shared.fanout import fan_out
from shared.ledger import Run
from shared.messages import Stage
from shared.offer_types import OfferType, UnsupportedOffer, offer_type
from shared.partnercenter.errors import BadRequest, NotFound
from shared.partnercenter.models import Product, Submission
from shared.partnercenter.status import blocking, stuck
from shared.pipeline.deps import StageDeps
from shared.pipeline.offer_fit import misfit
from shared.pipeline.outcomes import Advance, Failed, Outcome, Patch, Wait
from shared.pipeline.submission import holding, wait_or_fail
from shared.pipeline.submission_state import cleared, newest_submission
from shared.pipeline.turns import held_by
from shared.publish_request import DraftChanges

# Targets that only read: after resolve each goes to its own stage and ends there, taking no
# turn on the offer and waiting for no submission in flight (a plan reports one).
READ_ONLY_TARGETS = {"plan": Stage.PLAN, "export": Stage.EXPORT}


def resolve(run: Run, deps: StageDeps) -> Outcome:
    """Find the product and plans, take the offer's turn, and refuse to start while another
    submission is in flight (waiting for it, or failing, as configured)."""
    turns = Turns(run, deps)
    found = _product(run, deps, turns.read)
    if isinstance(found, Failed):
        turns.give_back(None)
        return found
    product = found
    turns.give_back(product.id)
    try:
        kind = offer_type(product.resource_type)
    except UnsupportedOffer as exc:
        return Failed(reason=str(exc), rejected=True, patch=Patch(product_id=product.id))
    changes = DraftChanges.model_validate(run.changes)
    plans: dict[str, str] = {}
    plan_types: dict[str, str] = {}
    if changes.plans and kind.has_plans:
        variants = {v.external_id: v for v in deps.pc.variants(product.id)}
        unknown = sorted(set(changes.plans) - set(variants))
        if unknown:
            return Failed(
                reason=f"unknown plan(s) {', '.join(unknown)} in offer "
                f"{product.offer_id or product.id}",
                rejected=True,
                patch=Patch(product_id=product.id),
            )
        plans = {plan: variants[plan].id for plan in changes.plans}
        plan_types = {plan: variants[plan].sub_type for plan in changes.plans}
    refused = misfit(kind, changes, plan_types) or _connect_app(deps, product.id, kind, changes)
    if refused:
        return Failed(reason=refused, rejected=True, patch=Patch(product_id=product.id))
    patch = Patch(
        product_id=product.id, offer_type=kind.resource_type, plans=plans, plan_types=plan_types
    )
    if run.target in READ_ONLY_TARGETS:
        return Advance(to=READ_ONLY_TARGETS[run.target], patch=patch)
    turn = turns.taken.get(product.id) or turns.take(product.id)
    if turn.holder is not None:  # wait for it asking the ledger alone (shared.pipeline.turns)
        return Wait(
            check=Stage.AWAIT_TURN,
            delay_seconds=deps.poll_seconds,
            reason=held_by(turn.holder),
            patch=patch,
        )
    subs = turn.submissions if turn.submissions is not None else deps.pc.submissions(product.id)
    latest = newest_submission(subs)
    held = _blocked(run, deps, product.id, subs, patch)
    if held is not None:
        return held
    patch = replace(patch, baseline_submission_id=latest.id if latest else "")
    if changes.package_sources():
        return Advance(to=Stage.UPLOAD_PACKAGE, patch=patch)
    if run.only_changed or changes.model_dump(exclude_defaults=True):
        return Advance(to=Stage.UPDATE_DRAFT, patch=patch)
    # Nothing to bring to the draft: the draft stage would only pass the run on (a hop).
    return Advance(
        to=Stage.SUBMIT_PREVIEW, patch=replace(patch, planned_modules=[], changed_modules=[])
    )


def _connect_app(
    deps: StageDeps, product_id: str, kind: OfferType, changes: DraftChanges
) -> str | None:
    """A Business Central Connect app has no package to replace (Partner Center keeps only
    a link to it): refused before any package is created."""
    if not (kind.offer_packages and changes.package):
        return None
    setup = deps.pc.setup(product_id)
    if setup.package_type.lower() == "connect":
        return f"offer is a {kind.label} Connect app; it takes no package (changes.package)"
    return None


def _blocked(
    run: Run, deps: StageDeps, product_id: str, subs: list[Submission], patch: Patch
) -> Wait | Failed | None:
    """A submission Partner Center would refuse ours beside. One an earlier pc-publisher run
    made and left behind (its run is over) is deleted: it is ours. One started elsewhere and in
    flight is waited for (or failed on); one stuck after failed validation never clears by
    itself, so PC_FOREIGN_SUBMISSION=delete deletes it, and otherwise the reason says how.
    Its checks read Partner Center, and thin out as the wait grows (StageDeps.plain_poll):
    a submission in flight may be certifying for days."""
    blockers = sorted((s for s in subs if blocking(s)), key=lambda s: s.id)
    left: list[Submission] = []
    for sub in blockers:
        owner = deps.submission_owner(product_id, sub.id) if deps.submission_owner else None
        deletable = sub.state.lower() == "inprogress"  # Partner Center deletes no other
        left_behind = owner is not None and owner[1] and deletable
        if left_behind or (stuck(sub) and deps.foreign_submission == "delete"):
            if not cleared(deps, product_id, sub):  # it moved on meanwhile: look again
                return Wait(
                    check=Stage.RESOLVE,
                    delay_seconds=deps.plain_poll(run, Stage.RESOLVE),
                    reason=f"submission {sub.id} ({sub.status}) moved on as it was being "
                    "deleted; looking at it again",
                    patch=patch,
                )
        elif owner is not None:  # ours: its run still going, or it is already publishing
            return Wait(
                check=Stage.RESOLVE,
                delay_seconds=deps.plain_poll(run, Stage.RESOLVE),
                reason=f"submission {sub.id} of pc-publisher run {owner[0]} is in flight "
                f"({sub.status}); waiting for it",
                patch=patch,
            )
        else:
            left.append(sub)
    holder = newest_submission(left)
    if holder is None:
        return None
    return wait_or_fail(run, deps, Stage.RESOLVE, holding(holder), patch)


class Turn(NamedTuple):
    """The offer's turn: the live run holding it and what that run is doing (None: ours now),
    and the product's submissions as read once it was ours."""

    holder: str | None
    submissions: list[Submission] | None


class Turns:
    """The offer's turn taken, and its submissions read, beside the read of the product by
    id: one round trip to Partner Center where there were two. Only for runs that take a
    turn; a turn taken on a product id that turned out not to be the offer's is given back."""

    def __init__(self, run: Run, deps: StageDeps) -> None:
        self._run, self._deps = run, deps
        self.taken: dict[str, Turn] = {}
        self._beside = deps.offer_lock is not None and run.target not in READ_ONLY_TARGETS

    def take(self, product_id: str) -> Turn:
        lock = self._deps.offer_lock
        holder = lock(product_id, self._run.run_id) if lock is not None else None
        self.taken[product_id] = Turn(holder, None)  # to give back, should the listing fail
        if holder is None:
            self.taken[product_id] = Turn(None, self._deps.pc.submissions(product_id))
        return self.taken[product_id]

    def read(self, product_id: str) -> Product:
        """The product by id, its turn taken meanwhile (raises what the product read raised)."""
        if not self._beside:
            return self._deps.pc.get_product(product_id)
        tasks: list[Callable[[], object]] = [
            lambda: self._deps.pc.get_product(product_id),
            lambda: self.take(product_id),
        ]
        product, _ = fan_out(lambda task: task(), tasks, workers=2)
        assert isinstance(product, Product)
        return product

    def give_back(self, kept: str | None) -> None:
        """Give back the turns taken on product ids other than `kept`."""
        for product_id, turn in self.taken.items():
            if product_id != kept and turn.holder is None and self._deps.offer_unlock:
                self._deps.offer_unlock(product_id, self._run.run_id)


def _product(run: Run, deps: StageDeps, read: Callable[[str], Product]) -> Product | Failed:
    """The run's product: by its GUID; or by offer id, from what an earlier run of the offer
    found, else v1's listing, else (the listing is empty or refused, as for offers moved to
    the new backend in 2026) the Product Ingestion API. The offer id is checked here after
    every lookup, whatever a filter did."""
    if run.product_id:
        try:
            return read(run.product_id)
        except NotFound:
            return Failed(reason=f"unknown offer: no product {run.product_id}", rejected=True)
    offer_id = run.offer_external_id
    assert offer_id
    known = deps.known_product(offer_id) if deps.known_product else None
    if known:
        with contextlib.suppress(NotFound):
            product = read(known)
            if product.offer_id == offer_id:
                return product
    found, looked_up = _listed_and_looked_up(deps, offer_id)
    if not found and looked_up is not None:
        if isinstance(looked_up, Exception):
            raise looked_up
        found = [p for pid in looked_up if (p := read(pid)).offer_id == offer_id]
    if not found:
        return Failed(
            reason=f"unknown offer: no product has offer id {offer_id!r} (v1 and the "
            "Product Ingestion API were asked)",
            rejected=True,
        )
    if len(found) > 1:
        return Failed(reason=f"offer id {offer_id!r} matches {len(found)} products", rejected=True)
    return found[0]


def _listed_and_looked_up(
    deps: StageDeps, offer_id: str
) -> tuple[list[Product], list[str] | Exception | None]:
    """v1's listing and the Product Ingestion API asked at once: a migrated offer is found in
    one round trip where it took two, and an offer v1 still lists costs one Graph read more,
    once (its product is remembered). What the lookup raised counts only when v1 found
    nothing (None: there is no lookup)."""
    lookup = deps.lookup

    def listed() -> list[Product]:
        try:
            return [p for p in deps.pc.find_products(offer_id) if p.offer_id == offer_id]
        except BadRequest:  # ICH50400 and friends: the listing is broken, not the request
            return []

    if lookup is None:
        return listed(), None
    # Partner Center's token first: while the credentials fail, the stage fails here without
    # also asking Entra for a Graph token (one backoff's attempts, not two).
    deps.pc.warm()

    def looked_up() -> list[str] | Exception:
        try:
            return lookup.product_ids(offer_id)
        except Exception as exc:
            return exc

    tasks: list[Callable[[], object]] = [listed, looked_up]
    found, ids = fan_out(lambda task: task(), tasks, workers=2)
    assert isinstance(found, list) and isinstance(ids, list | Exception)
    return found, ids
