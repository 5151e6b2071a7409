"""Composition root: builds the pipeline's clients once per process, on first use.

Nothing here runs at import time (cold start), and this is the only module that knows which
concrete clients back the pipeline.
"""

from __future__ import annotations

import logging
import threading
from functools import cache
from typing import TYPE_CHECKING

from shared import redaction
from shared.credentials import PartnerCenterTokens
from shared.exports import BlobExports
from shared.incidents import BreakerPolicy, Incidents
from shared.ledger import Ledger
from shared.notify_delivery import Notifier, Poster
from shared.observability import setup as telemetry
from shared.packages import BlobPackageFiles
from shared.partnercenter.budget import TenantBudget
from shared.partnercenter.client import PartnerCenterClient
from shared.partnercenter.lookup import ProductIngestionLookup
from shared.partnercenter.transport import tls_verify
from shared.pauses import Pauses
from shared.pipeline.effects import Pipeline
from shared.pipeline.stages import StageDeps
from shared.queues import ALL_QUEUES, QueueSender
from shared.releases import Releases
from shared.settings import GRAPH_SCOPE, Settings, get_settings
from shared.storage import queue_client, table_service
from shared.vault import KeyVaultSecret, build_vault_credential
from shared.wait_history import WaitHistory

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

log = logging.getLogger(__name__)
_lock = threading.Lock()
_pipeline: Pipeline | None = None


def build_pipeline(settings: Settings) -> Pipeline:
    redaction.install()
    redaction.register(settings.vault_client_secret)
    secret = KeyVaultSecret(settings)
    tokens = PartnerCenterTokens(settings, secret)
    ledger = Ledger(table_service(settings))
    limiter = (
        # A poll that finds no room gives its invocation back (the poller dispatches none
        # while stages press on the budget; this bounds one that raced a press).
        TenantBudget(
            ledger,
            settings.rate_limit_per_minute,
            poll_wait_seconds=10.0,
        )
        if settings.rate_limit_per_minute
        else None
    )
    pc = PartnerCenterClient(
        settings.partner_center_api_url,
        tokens,
        verify=settings.ca_bundle or True,
        extra_headers=settings.extra_headers,
        rate_limiter=limiter,
    )
    # The lookup is Microsoft Graph's, not the ingestion API's: another service with its own
    # throttling (its 429s are retried as told), so it takes nothing from the tenant's budget.
    lookup = ProductIngestionLookup(
        PartnerCenterClient(
            settings.product_ingestion_url,
            PartnerCenterTokens(settings, secret, scope=GRAPH_SCOPE),
            verify=settings.ca_bundle or True,
        )
    )
    releases = Releases(ledger)
    # The history is read again every ten poll intervals, at most a minute.
    ttl = min(60.0, 10 * settings.status_poll_seconds)
    waits = WaitHistory(ledger.table, ttl_seconds=ttl) if settings.learn_waits else None
    queues = QueueSender(lambda name: queue_client(settings, name))
    return Pipeline(
        budget=limiter,
        ledger=ledger,
        queues=queues,
        stage_deps=StageDeps(
            pc=pc,
            poll_seconds=settings.status_poll_seconds,
            offer_lock=ledger.locks.acquire,
            offer_unlock=ledger.locks.release,
            files=BlobPackageFiles(settings),
            exports=BlobExports(settings),
            foreign_submission=settings.foreign_submission,
            lookup=lookup,
            known_product=ledger.product_for,
            submission_owner=ledger.submission_owner,
            releases=releases,
            approval_timeout_seconds=settings.approval_timeout_hours * 3600,
            approval_remind_seconds=settings.approval_remind_seconds,
            max_poll_seconds=settings.max_poll_seconds,
            expected_wait=waits.expected if waits else None,
        ),
        retry_delay_seconds=settings.retry_delay_seconds,
        stall_seconds=settings.stall_seconds,
        trouble_seconds=settings.trouble_seconds,
        claim_seconds=settings.claim_seconds,
        deadline_seconds=settings.deadline_hours * 3600,
        package_url_hosts=settings.package_url_hosts,
        incidents=Incidents(
            ledger,
            BreakerPolicy(
                first_probe_seconds=min(10.0, settings.incident_max_probe_seconds),
                max_probe_seconds=settings.incident_max_probe_seconds,
            ),
            glance_seconds=1.0,
        ),
        secret_probe=secret.get,
        pauses=Pauses(ledger),
        releases=releases,
        notifier=_notifier(settings, queues, ledger),
        waits=waits,
    )


def _notifier(settings: Settings, queues: QueueSender, ledger: Ledger) -> Notifier:
    """Sinks' URLs and keys are Key Vault secrets, read (and cached) like the app's own, with
    one vault credential for all of them, made on the first read."""
    vault: dict[str, KeyVaultSecret] = {}

    def secret(name: str) -> str:
        with _lock:
            if name not in vault:
                shared = next(iter(vault.values()), None)
                credential = shared.credential() if shared else build_vault_credential(settings)
                vault[name] = KeyVaultSecret(settings, credential, name=name)
            reader = vault[name]
        return reader.get()

    return Notifier(settings.notify_sinks, queues, ledger, secret, _poster(settings.ca_bundle))


@cache
def _poster(ca_bundle: str | None) -> Poster:
    """One per process (per CA bundle): its connections serve every pipeline built here."""
    return Poster(tls_verify(ca_bundle))


def pipeline() -> Pipeline:
    """The process's pipeline, built on first use (telemetry first, so it sees the build)."""
    global _pipeline
    with _lock:
        if _pipeline is None:
            settings = get_settings()
            telemetry.configure(settings)
            _pipeline = build_pipeline(settings)
        return _pipeline


def warm_up() -> None:
    """What a new instance's first runs would otherwise queue behind, done as it starts (the
    warmup trigger): the clients built, the ledger's tables and the queues there, the secret
    read, both tokens taken. Nothing here is required: a failure is logged, and the stages load
    the same things lazily, with the credentials' own backoff."""
    built = pipeline()
    built.know_secrets()
    ledger = built.ledger
    try:  # made now, not by a batch's first intakes all at once (one create call each)
        for table in (ledger.table, ledger.index_table, ledger.archive.table):
            table()
    except Exception as exc:
        log.warning("warmup could not reach the ledger's tables: %s", str(exc)[:300])
    try:  # the events queue above all: every stage's first event sent a create call
        built.queues.prepare(ALL_QUEUES)
    except Exception as exc:
        log.warning("warmup could not reach the queues: %s", str(exc)[:300])
    deps = built.stage_deps
    for client in (deps.pc, deps.lookup):
        if isinstance(client, PartnerCenterClient | ProductIngestionLookup):
            try:
                client.warm()
            except Exception as exc:
                log.warning("warmup could not take a token: %s", str(exc)[:300])


def raw_queue(name: str) -> QueueClient:
    """A raw client for `name` (see shared.storage.queue_client)."""
    return queue_client(get_settings(), name, raw=True)
