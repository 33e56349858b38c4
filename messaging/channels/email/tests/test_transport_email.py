"""E-mail: Django's mail API over real SMTP (the simulator) and through an anymail backend."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from django.core import mail

from bounces.models import DoNotSendEntry
from clients.tests.factories import make_client
from messaging import dispatch
from messaging.channels.base import TransportError
from messaging.channels.email.transport import EmailTransport
from messaging.models import Attempt, Status
from messaging.rendering import Rendered
from messaging.services_settings import setting_update
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    make_delivery,
    refreshed,
    smtp_sim,
)

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "smtp_sim"]

pytestmark = pytest.mark.django_db


def send_due(now: dt.datetime) -> None:
    for claim in dispatch.claim_due(now=now, channels=["email"]):
        dispatch.send_claimed(claim.ids, claim.token)


def test_email_has_text_html_unsubscribe_headers_and_our_message_id(daytime, smtp_sim, settings):
    setting_update(number=276, value="reminders@clinic.example", user=None)
    delivery = make_delivery(channel="email", description="Office closed Friday")
    send_due(daytime.now())
    delivery = refreshed(delivery)
    assert delivery.status == Status.SENT and delivery.provider_message_id.endswith("@clinic.example")
    [message] = smtp_sim.received()
    headers = {name.lower(): " ".join(value.split()) for name, value in message["headers"]}
    assert headers["list-unsubscribe"] == f"<{settings.PUBLIC_BASE_URL}/bounces/unsubscribe/{delivery.token}/>"
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    assert headers["message-id"].strip("<>") == delivery.provider_message_id
    assert "reminders@clinic.example" in headers["from"]
    assert message["subject"] == "A message from Riverbend Behavioral Health"
    assert "Office closed Friday" in message["text"] and "Office closed Friday" in message["html"]


def test_several_emails_share_one_smtp_session(daytime, smtp_sim, settings):
    settings.DISPATCH_BATCH_SIZE = 10
    rows = [make_delivery(channel="email") for _ in range(5)]
    send_due(daytime.now())
    assert {refreshed(r).status for r in rows} == {Status.SENT}
    received = smtp_sim.received()
    assert len(received) == 5
    assert len({message["session"] for message in received}) == 1  # one connection, not one per e-mail


def test_a_broken_smtp_session_is_reopened_for_the_rest_of_the_batch(daytime, smtp_sim, settings):
    settings.DISPATCH_BATCH_SIZE = 10
    rows = [make_delivery(channel="email") for _ in range(3)]
    transport = EmailTransport()
    rendered = Rendered(email_subject="Office closed", email_text="Office closed Friday")
    with transport.session():
        transport.send(rows[0], rendered)
        transport._connection.connection.sock.shutdown(socket.SHUT_RDWR)  # the connection drops mid-batch
        with pytest.raises(TransportError) as failed:
            transport.send(rows[1], rendered)
        assert failed.value.retryable and failed.value.code == "network"
        transport.send(rows[2], rendered)
    sessions = [message["session"] for message in smtp_sim.received()]
    assert len(sessions) == 2 and sessions[0] != sessions[1]


def test_hard_bounce_at_rcpt_is_final_and_blocks_the_address(daytime, smtp_sim):
    delivery = make_delivery(channel="email", client=make_client(email="hard-bounce@example.org"))
    send_due(daytime.now())
    delivery = refreshed(delivery)
    assert (delivery.status, delivery.bounce_category, delivery.hard_bounce) == (Status.FAILED, "Bad-Mailbox", True)
    assert delivery.error_code == "550"
    assert DoNotSendEntry.objects.filter(channel="email", address="hard-bounce@example.org").exists()
    assert Attempt.objects.get(delivery=delivery).outcome == "failed"


def test_soft_bounce_is_resent_per_settings(daytime, smtp_sim):
    setting_update(number=256, value="1", user=None)
    setting_update(number=258, value="20", user=None)
    delivery = make_delivery(channel="email", client=make_client(email="mailbox-full@example.org"))
    send_due(daytime.now())
    delivery = refreshed(delivery)
    assert (delivery.status, delivery.bounce_category, delivery.resend_count) == (Status.QUEUED, "Quota-Issues", 1)
    assert delivery.next_attempt_at == daytime.now() + dt.timedelta(minutes=20)
    daytime.advance(minutes=20)
    send_due(daytime.now())
    delivery = refreshed(delivery)
    assert delivery.status == Status.FAILED and delivery.hard_bounce is False
    assert list(Attempt.objects.filter(delivery=delivery).values_list("kind", flat=True)) == ["first", "resend"]


def test_mail_server_down_is_retried_with_back_off(daytime, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    delivery = make_delivery(channel="email")
    send_due(daytime.now())
    delivery = refreshed(delivery)
    assert delivery.status == Status.QUEUED and delivery.next_attempt_at > daytime.now()
    assert delivery.resend_count == 0 and delivery.bounce_category == ""


def test_anymail_backend_gets_opaque_metadata_and_its_message_id_is_stored(daytime, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    delivery = make_delivery(channel="email")
    send_due(daytime.now())
    [message] = mail.outbox
    assert message.metadata == {"delivery_id": str(delivery.pk)}
    delivery = refreshed(delivery)
    assert delivery.status == Status.SENT
    assert delivery.provider_message_id == str(message.anymail_status.message_id)
