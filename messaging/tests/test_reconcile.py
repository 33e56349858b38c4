"""Reconciliation asks each channel's own status look-up, found through the registry.

The whole path (lost callbacks, a real worker) is ``tests/integration/test_faults_callbacks.py``;
here: which channels are asked, and that an id the provider does not know is asked again later
rather than counted as a provider failure. Provider traffic goes to the in-process simulators.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core import clock
from messaging.channels.fax import lookup as fax_lookup
from messaging.channels.registry import reconciled
from messaging.channels.sms import lookup as sms_lookup
from messaging.dispatch.reconcile import lookups, reconcile_waiting
from messaging.models import Delivery, Status
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    fax_sim,
    make_delivery,
    refreshed,
    twilio_sim,
)

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "fax_sim", "twilio_sim"]

pytestmark = pytest.mark.django_db

UNKNOWN_SID = "SM" + "0" * 32


def test_the_channels_with_a_status_api_are_the_registrys():
    assert {spec.kind for spec in reconciled()} == {"sms", "voice", "fax"}
    table = lookups()
    assert (table["sms"].fetch, table["sms"].apply) == (sms_lookup.fetch_status, sms_lookup.apply_status)
    assert (table["fax"].fetch, table["fax"].apply) == (fax_lookup.fetch_status, fax_lookup.apply_status)


def test_an_unknown_id_is_asked_again_later_and_a_channel_without_a_status_api_is_not_asked(
    daytime: Any, twilio_sim: Any, fax_sim: Any, settings: Any
) -> None:
    settings.RECONCILE_AFTER_SECONDS = 60
    long_ago = clock.now() - dt.timedelta(minutes=5)
    text = make_delivery(channel="sms", status=Status.SENT, provider_message_id=UNKNOWN_SID)
    fax = make_delivery(channel="fax", status=Status.SENT, provider_message_id="01NOSUCHFAX")
    email = make_delivery(channel="email", status=Status.SENT, provider_message_id="<x@example.org>")
    Delivery.objects.filter(pk__in=[text.pk, fax.pk, email.pk]).update(updated_at=long_ago)
    report = reconcile_waiting()
    assert (report.asked, report.applied, report.failed) == (0, 0, 0)  # 404s: not known yet, not failures
    assert refreshed(text).updated_at == clock.now() and refreshed(fax).updated_at == clock.now()
    assert refreshed(email).updated_at == long_ago  # e-mail has no status API
    assert reconcile_waiting().asked == 0  # asked again only after another RECONCILE_AFTER_SECONDS
