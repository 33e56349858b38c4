"""What a client received is kept: template versions fixed at creation, content stored when sent."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from clients.models import ContactMethod, PortalAccount
from clients.tests.factories import make_client
from messaging import dispatch
from messaging.broadcasts import broadcast_create
from messaging.content import said, version_for
from messaging.models import Delivery, MessageContent, MessageTemplate, MessageType, Status, TemplateVersion
from messaging.services_settings import setting_update
from messaging.system_settings import clear_cache
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    fax_sim,
    refreshed,
    twilio_sim,
)

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "fax_sim", "twilio_sim"]

pytestmark = pytest.mark.django_db


def ad_hoc() -> MessageType:
    return MessageType.objects.get(code="ad-hoc-clients")


def template(channel: str) -> MessageTemplate:
    return MessageTemplate.objects.get(message_type=ad_hoc(), channel=channel)


def edit(channel: str, **fields: str) -> None:
    t = template(channel)
    for name, value in fields.items():
        setattr(t, name, value)
    t.save()


def send_due(daytime) -> None:
    for claim in dispatch.claim_due(now=daytime.now()):
        dispatch.send_claimed(claim.ids, claim.token)


def test_an_unchanged_template_is_one_version_and_an_edit_makes_the_next():
    t = template("sms")
    first = version_for(t)
    assert version_for(t).pk == first.pk and first.number == 1 and first.sms_body == t.sms_body
    edit("sms", sms_body="New words {{ description }}")
    second = version_for(template("sms"))
    assert second.number == 2 and second.sms_body == "New words {{ description }}"
    assert TemplateVersion.objects.get(pk=first.pk).sms_body == t.sms_body  # the old one is kept


def test_editing_the_template_after_send_changes_neither_queued_nor_sent_messages(daytime, twilio_sim, client):
    patient = make_client(preferred=ContactMethod.EMAIL)
    result = broadcast_create(message_type=ad_hoc(), channels=["sms", "email"], description="Closed Friday")
    sms, email = (Delivery.objects.get(broadcast=result.broadcast, channel=ch) for ch in ("sms", "email"))
    edit("sms", sms_body="EDITED {{ description }}")
    edit("email", email_subject="EDITED subject", email_text="EDITED {{ description }}")
    # Queued: the detail says what it will say, from the version fixed at Send.
    assert "EDITED" not in said(refreshed(sms)).text and "Closed Friday" in said(refreshed(sms)).text
    send_due(daytime)
    [text] = twilio_sim.received()
    assert "EDITED" not in text["params"]["Body"] and "Closed Friday" in text["params"]["Body"]
    [message] = mail.outbox
    assert "EDITED" not in message.subject + message.body
    # Sent: stored as it went out, and shown so even after a further edit.
    edit("sms", sms_body="EDITED AGAIN")
    stored = said(refreshed(sms))
    assert stored.stored and stored.text == text["params"]["Body"] and stored.encoding == "GSM-7"
    assert stored.segments == 1 and stored.version == 1
    assert said(refreshed(email)).subject == message.subject
    staff = get_user_model().objects.create_superuser("boss", password="x")
    client.force_login(staff)
    page = client.get(f"/messaging/history/{sms.pk}/").content.decode()
    assert "What was sent" in page and "Closed Friday" in page and "EDITED" not in page
    assert patient.pk  # (the recipient)


def test_identical_content_is_stored_once(daytime, twilio_sim):
    for _ in range(30):
        make_client()
    broadcast_create(message_type=ad_hoc(), channels=["sms"], description="Flu clinic Saturday")
    send_due(daytime)
    sent = Delivery.objects.filter(channel="sms", status=Status.SENT)
    assert sent.count() == 30
    assert MessageContent.objects.count() == 1 and set(sent.values_list("content_id", flat=True)) == {
        MessageContent.objects.get().pk
    }


def test_automated_messages_fix_their_version_when_planned():
    from messaging.automation import send_billing_statement

    patient = make_client(preferred=ContactMethod.TEXT)
    [row] = send_billing_statement(client=patient, idempotency_key="st-1")
    version = row.template_version
    assert version is not None and version.channel == "sms" and version.message_type.code == "billing-statement"


def test_the_portal_inbox_shows_what_was_sent_not_todays_template(daytime, client):
    setting_update(number=620, value="yes")
    clear_cache()
    patient = make_client(preferred=ContactMethod.EMAIL)
    user = get_user_model().objects.create_user("pat", password="x")
    PortalAccount.objects.create(client=patient, user=user)
    result = broadcast_create(message_type=ad_hoc(), channels=["portal"], description="Your forms are ready")
    send_due(daytime)
    portal = Delivery.objects.get(broadcast=result.broadcast)
    assert refreshed(portal).status == Status.DELIVERED
    edit("portal", email_text="EDITED {{ description }}")
    client.force_login(user)
    page = client.get(f"/portal/messages/{portal.pk}/").content.decode()
    assert "Your forms are ready" in page and "EDITED" not in page


def test_history_and_its_csv_offer_the_message_as_sent(daytime, twilio_sim, client):
    make_client()
    result = broadcast_create(message_type=ad_hoc(), channels=["sms"], description="Parking lot closed")
    send_due(daytime)
    edit("sms", sms_body="EDITED")
    staff = get_user_model().objects.create_superuser("boss", password="x")
    client.force_login(staff)
    from messaging.history import layout_save

    layout_save(user=staff, columns=["recipient", "channel", "message"])
    page = client.get("/messaging/history/").content.decode()
    assert "Parking lot closed" in page and "EDITED" not in page
    csv_text = b"".join(client.get("/messaging/history/export.csv").streaming_content).decode()
    assert "Message" in csv_text.splitlines()[0] and "Parking lot closed" in csv_text
    assert result.broadcast.pk


def test_a_fax_keeps_its_text_and_the_pdfs_checksum(daytime, fax_sim):
    from messaging.models import Attempt

    make_client(preferred=ContactMethod.FAX)
    broadcast_create(message_type=ad_hoc(), channels=["fax"], description="New fax number")
    send_due(daytime)
    delivery = Delivery.objects.get(channel="fax")
    assert "New fax number" in delivery.content.text
    [attempt] = Attempt.objects.filter(delivery=delivery)
    summary = attempt.request_summary
    assert len(summary["pdf_sha256"]) == 64 and summary["pdf_bytes"] > 0
