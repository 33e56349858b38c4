"""Fixtures and builders for the dispatcher and channel tests (imported by those test modules).

Provider traffic goes to the in-process simulators (``messaging.simulators``) through the real
twilio / requests / smtplib clients; only time is controlled (``core.clock``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from twilio.request_validator import RequestValidator

from clients.tests.factories import make_client
from core import clock
from messaging import ratelimit
from messaging.channels.twilio.client import clear_twilio_client_cache
from messaging.models import Broadcast, Delivery, MessageType, Status
from messaging.simulators.base import SimHandle

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, callbacks fail fast
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# A Tuesday mid-morning in the clinic's zone: inside every sending window.
DAYTIME = dt.datetime(2025, 6, 3, 10, 0, tzinfo=NEW_YORK)


@pytest.fixture
def daytime() -> Iterator[clock.ControlledClock]:
    with clock.freeze(DAYTIME) as frozen:
        yield frozen


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    ratelimit.reset()
    yield
    ratelimit.reset()


@pytest.fixture(autouse=True)
def _public_base_url(settings: Any) -> None:
    """Simulator callbacks go nowhere unless a test asks for ``live_callbacks``."""
    settings.PUBLIC_BASE_URL = UNREACHABLE


@pytest.fixture
def live_callbacks(_public_base_url: None, live_server: Any, settings: Any) -> str:
    """Simulator callbacks reach this test's live server (needs ``django_db(transaction=True)``)."""
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server.url


@pytest.fixture
def twilio_sim(settings: Any) -> Iterator[SimHandle]:
    from messaging.simulators.twilio_sim import start_twilio_sim

    with start_twilio_sim(
        account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=settings.TWILIO_AUTH_TOKEN, callback_delay_ms=5
    ) as handle:
        settings.TWILIO_API_BASE = handle.url
        clear_twilio_client_cache()
        yield handle
    clear_twilio_client_cache()


@pytest.fixture
def fax_sim(settings: Any) -> Iterator[SimHandle]:
    from messaging.channels.fax.transport import fax_client
    from messaging.simulators.fax_sim import start_fax_sim

    with start_fax_sim(
        project_id=settings.FAX_PROJECT_ID,
        key_id=settings.FAX_KEY_ID,
        key_secret=settings.FAX_KEY_SECRET,
        callback_user=settings.FAX_CALLBACK_USER,
        callback_password=settings.FAX_CALLBACK_PASSWORD,
        callback_delay_ms=5,
    ) as handle:
        settings.FAX_API_BASE = handle.url
        fax_client.cache_clear()
        yield handle
    fax_client.cache_clear()


@pytest.fixture
def smtp_sim(settings: Any) -> Iterator[SimHandle]:
    from messaging.simulators.smtp_sim import start_smtp_sim

    with start_smtp_sim() as handle:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = handle.host, handle.port
        settings.EMAIL_USE_TLS = False
        yield handle


def message_type(code: str = "ad-hoc-clients") -> MessageType:
    return MessageType.objects.get(code=code)


def client_address(client: Any, channel: str) -> str:
    return {
        "sms": str(client.cell_phone),
        "voice": str(client.cell_phone or client.phone),
        "email": client.email,
        "fax": str(client.fax),
    }[channel]


def make_delivery(
    *,
    channel: str = "sms",
    client: Any = None,
    code: str = "ad-hoc-clients",
    description: str = "Office closed Friday",
    due: dt.datetime | None = None,
    status: str = Status.QUEUED,
    **fields: Any,
) -> Delivery:
    """One queued delivery to a consenting client (its chart address), due now unless ``due``."""
    client = client if client is not None else make_client()
    now = clock.now()
    broadcast = Broadcast.objects.create(
        message_type=message_type(code), description=description, broadcast_at=now, channels=[channel]
    )
    values: dict[str, Any] = {
        "broadcast": broadcast,
        "message_type": broadcast.message_type,
        "channel": channel,
        "client": client,
        "recipient_name": f"{client.first_name} {client.last_name}",
        "address": client_address(client, channel),
        "address_source": "chart",
        "status": status,
        "next_attempt_at": due or now,
    }
    values.update(fields)
    return Delivery.objects.create(**values)


def twilio_post(http: HttpClient, path: str, params: dict[str, str], *, signature: str | None = None) -> Any:
    """POST a form to our webhook signed as Twilio signs it (or with the given signature)."""
    url = settings.PUBLIC_BASE_URL + path
    if signature is None:
        signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    return http.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def refreshed(delivery: Delivery) -> Delivery:
    delivery.refresh_from_db()
    return delivery
