"""Issue 14 §5: when a message ends failed, the type's next channel in its fallback order is tried."""

from __future__ import annotations

import datetime as dt

import pytest

from bounces.services import dns_add
from bounces.taxonomy import Category, Classification
from clients.tests.factories import make_client
from messaging import dispatch
from messaging.channels.twilio.errors import classify_sms_error
from messaging.fallback import fallback_after, fallback_chain
from messaging.models import Delivery, MessageType, Status
from messaging.outcomes import delivery_apply_status
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    make_delivery,
    refreshed,
    twilio_sim,
)

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "twilio_sim"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms_then_voice_then_email(db) -> MessageType:
    kind = MessageType.objects.get(code="ad-hoc-clients")
    kind.fallback_channels = ["sms", "voice", "email"]
    kind.save()
    return kind


def send_all(now: dt.datetime) -> None:
    for claim in dispatch.claim_due(now=now, channels=["sms"]):
        dispatch.send_claimed(claim.ids, claim.token)


def landline_callback(delivery: Delivery) -> None:
    """Twilio's status callback for a text to a landline (30006), applied as the callback view does."""
    delivery_apply_status(
        delivery_id=delivery.pk,
        status=Status.FAILED,
        provider="twilio",
        event_id=f"{delivery.provider_message_id}:undelivered",
        event_type="undelivered",
        classification=classify_sms_error(30006),
        provider_message_id=delivery.provider_message_id,
    )


def test_a_text_to_a_landline_falls_back_to_a_call_to_that_number(daytime, twilio_sim, sms_then_voice_then_email):
    text = make_delivery(client=make_client(cell_phone="+16175550002"))  # the simulator: a landline (30006)
    send_all(daytime.now())
    landline_callback(refreshed(text))
    text = refreshed(text)
    assert (text.status, text.bounce_category) == (Status.FAILED, "Bad-Mailbox")
    call = Delivery.objects.get(fallback_of=text)
    assert (call.channel, call.status, call.address) == ("voice", Status.QUEUED, "+16175550002")
    assert call.broadcast_id == text.broadcast_id and call.template_version_id is not None
    assert call.next_attempt_at <= daytime.now()
    assert call.status_reason == "Fallback: the Text (SMS) message failed (Bad-Mailbox)"
    assert fallback_chain(call) == [text, call] == fallback_chain(text)
    landline_callback(refreshed(text))  # the same callback again: nothing new
    assert Delivery.objects.filter(fallback_of=text).count() == 1


def test_a_channel_the_client_cannot_receive_on_is_skipped(sms_then_voice_then_email):
    client = make_client(cell_phone="", phone="", email="ana@example.org")  # nothing to call
    dns_add(channel="email", address="other@example.org", reason="staff")
    failed = make_delivery(client=client, status=Status.FAILED, bounce_category="Bad-Mailbox")
    fallback = fallback_after(failed)
    assert fallback is not None and (fallback.channel, fallback.address) == ("email", "ana@example.org")


def test_nothing_falls_back_without_an_order_on_the_last_channel_or_to_a_blocked_address(sms_then_voice_then_email):
    on_list = make_client(cell_phone="", phone="", email="blocked@example.org")
    dns_add(channel="email", address="blocked@example.org", reason="staff")
    assert fallback_after(make_delivery(client=on_list, status=Status.FAILED)) is None
    assert fallback_after(make_delivery(channel="email", status=Status.FAILED)) is None  # last in the order
    assert fallback_after(make_delivery(status=Status.DELIVERED)) is None
    sms_then_voice_then_email.fallback_channels = []
    sms_then_voice_then_email.save()
    assert fallback_after(make_delivery(status=Status.FAILED)) is None
    assert not Delivery.objects.filter(fallback_of__isnull=False).exists()


def test_a_busy_line_with_redials_left_does_not_fall_back_yet(daytime, sms_then_voice_then_email):
    call = make_delivery(channel="voice", status=Status.SENT, provider_message_id="CA123")
    busy = Classification(Category.NO_ANSWER_FROM_HOST.value, hard=False, reason="busy")
    delivery_apply_status(
        delivery_id=call.pk,
        status=Status.FAILED,
        provider="twilio",
        event_id="CA123:busy",
        event_type="busy",
        classification=busy,
        provider_message_id="CA123",
        redial=True,
    )
    call = refreshed(call)
    assert call.status == Status.QUEUED and call.retry_kind == "redial"  # the same channel first (setting 266)
    assert not Delivery.objects.filter(fallback_of=call).exists()


def test_the_detail_page_links_every_message_of_the_chain(client, django_user_model, sms_then_voice_then_email):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("desk", password="x-pass-123456")
    staff.user_permissions.add(Permission.objects.get(codename="view_history"))
    client.force_login(staff)
    failed = make_delivery(
        client=make_client(cell_phone="+16175550002"), status=Status.FAILED, bounce_category="Bad-Mailbox"
    )
    call = fallback_after(failed)
    page = client.get(f"/messaging/history/{call.pk}/").content.decode()
    assert 'id="fallback-chain"' in page and f'href="/messaging/history/{failed.pk}/"' in page
    assert "Voice to (617) 555-0002" in page and "(this message)" in page
    plain = client.get(f"/messaging/history/{make_delivery().pk}/").content.decode()
    assert 'id="fallback-chain"' not in plain


def test_the_order_accepts_known_contact_methods_once_each(db):
    from django.core.exceptions import ValidationError

    kind = MessageType.objects.get(code="ad-hoc-clients")
    for bad in (["sms", "pigeon"], ["sms", "sms"], "sms,voice", [1]):
        kind.fallback_channels = bad
        with pytest.raises(ValidationError):
            kind.clean()
    kind.fallback_channels = ["sms", "voice", "email"]
    kind.clean()
