"""Fixtures for the simulator tests: the simulators themselves and a tiny webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from messaging.channels.twilio.client import clear_twilio_client_cache, get_twilio_client
from messaging.simulators.base import SimHandle
from messaging.simulators.fax_sim import start_fax_sim
from messaging.simulators.smtp_sim import start_smtp_sim
from messaging.simulators.tests.support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FAX,
    WebhookReceiver,
    start_receiver,
    stop_receiver,
)
from messaging.simulators.twilio_sim import start_twilio_sim


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    handle = start_receiver()
    yield handle
    stop_receiver(handle)


@pytest.fixture
def twilio_sim() -> Iterator[SimHandle]:
    with start_twilio_sim(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, callback_delay_ms=5) as h:
        yield h


@pytest.fixture
def twilio(twilio_sim: SimHandle) -> Iterator[Any]:
    clear_twilio_client_cache()
    yield get_twilio_client(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base=twilio_sim.url)
    clear_twilio_client_cache()


@pytest.fixture
def fax_sim() -> Iterator[SimHandle]:
    with start_fax_sim(callback_delay_ms=5, **FAX) as handle:
        yield handle


@pytest.fixture
def smtp_sim() -> Iterator[SimHandle]:
    with start_smtp_sim() as handle:
        yield handle
