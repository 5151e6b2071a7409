"""How the local host's lease keepers call storage: one short call each (the keeper is the
retry, so no SDK backoff of 15 s holds it past a lease), and an error read as storage not
answering (try again, the lease may still be ours) or storage saying no (it is not)."""

from __future__ import annotations

from azure.core.exceptions import AzureError, HttpResponseError

CALL_SECONDS = 2.0  # a lease call's connect and read timeouts


def unanswered(exc: Exception) -> bool:
    """Storage did not say no: it did not answer, or failed on its side (worth a retry)."""
    if isinstance(exc, HttpResponseError):
        return exc.status_code is None or exc.status_code >= 500
    return isinstance(exc, AzureError)
