"""Asking the fax API about a fax whose status callback is overdue (``ChannelSpec.status_lookup``):
:func:`fetch_status` is ``GET …/faxes/{id}``, :func:`apply_status` hands a finished fax to the
``FAX_COMPLETED`` callback's own path, with its event id."""

from __future__ import annotations

from typing import Any

from messaging.channels.base import NotKnown

FINAL = ("COMPLETED", "FAILURE")


def fetch_status(fax_id: str) -> dict[str, Any]:
    """The fax object (network only); the API's 404 becomes :class:`NotKnown`."""
    from messaging.channels.fax.api import FaxApiError
    from messaging.channels.fax.transport import fax_client

    client = fax_client()
    try:
        return client.get_fax(fax_id)
    except FaxApiError as exc:
        if exc.status == 404:
            raise NotKnown(str(exc)) from exc
        raise
    finally:
        client.close()


def apply_status(delivery_id: int, fax_id: str, fax: dict[str, Any]) -> bool:
    """Apply a finished fax; False while it is still going out (or for another fax's answer)."""
    from messaging.channels.fax.webhooks import apply_fax_event

    if str(fax.get("status") or "").upper() not in FINAL or str(fax.get("id") or "") != fax_id:
        return False
    # The FAX_COMPLETED callback's event, built from the fax object: the same event id.
    return apply_fax_event(delivery_id, {"event": "FAX_COMPLETED", "fax": fax, "source": "reconciliation"}, fax)
