"""The chart's Messages tab (issue 14 §3): messages as sent, replies, changes, Do-Not-Send, permissions, log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from bounces.models import DnsChannel, DnsReason, DoNotSendEntry
from clients.services import messaging_profile_update
from clients.tests.factories import make_appointment, make_client
from core.models import AccessKind, AccessLog
from messaging import dispatch
from messaging.broadcasts import broadcast_create
from messaging.channels.sms.keywords import InboundText
from messaging.chart_messages import Cursor, chart_messages
from messaging.explanations import explain
from messaging.inbound import appointment_reply, handle_inbound_text
from messaging.models import Broadcast, Delivery, MessageContent, MessageTemplate, MessageType, Status
from messaging.tests.dispatch_support import _fresh_rate_limits, _public_base_url, daytime, twilio_sim

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "twilio_sim"]

pytestmark = pytest.mark.django_db


def url(client_id: int) -> str:
    return f"/messaging/clients/{client_id}/messages/"


def ad_hoc() -> MessageType:
    return MessageType.objects.get(code="ad-hoc-clients")


def user_with(django_user_model: Any, name: str, *codenames: str) -> Any:
    user = django_user_model.objects.create_user(name)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


def messages_to(patient, n: int, *, start: dt.datetime | None = None, content: bool = True, **fields) -> list:
    """``n`` SMS deliveries to ``patient``, one a minute, each with its own stored content."""
    broadcast = Broadcast.objects.create(message_type=ad_hoc(), broadcast_at=start or dt.datetime.now(dt.UTC))
    start = start or dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    made = []
    for i in range(n):
        stored = (
            MessageContent.objects.create(digest=f"{broadcast.pk}-{i}", channel="sms", text=f"Words number {i}")
            if content
            else None
        )
        made.append(
            Delivery.objects.create(
                broadcast=broadcast,
                message_type=broadcast.message_type,
                channel="sms",
                client=patient,
                recipient_name=str(patient),
                address=str(patient.cell_phone),
                created_at=start + dt.timedelta(minutes=i),
                content=stored,
                **fields,
            )
        )
    return made


def test_needs_login_and_both_view_permissions(client, django_user_model):
    patient = make_client()
    assert client.get(url(patient.pk)).status_code == 302
    for name, perms in (("nobody", ()), ("chart", ("view_client",)), ("history", ("view_history",))):
        client.force_login(user_with(django_user_model, name, *perms))
        assert client.get(url(patient.pk)).status_code == 403, name
    client.force_login(user_with(django_user_model, "both", "view_client", "view_history"))
    assert client.get(url(patient.pk)).status_code == 200
    assert client.get(url(999_999)).status_code == 404
    assert client.post(url(patient.pk)).status_code == 405


def test_the_chart_links_to_the_tab_only_for_users_who_may_see_it(client, django_user_model, staff_user):
    patient = make_client()
    client.force_login(user_with(django_user_model, "chart", "view_client"))
    assert url(patient.pk) not in client.get(f"/clients/{patient.pk}/").content.decode()
    client.force_login(staff_user)
    chart = client.get(f"/clients/{patient.pk}/").content.decode()
    assert f'href="{url(patient.pk)}"' in chart
    tab = client.get(url(patient.pk)).content.decode()
    # The tab wears the chart's header: its tabs lead back to the chart, Messages is the active one.
    assert f"/clients/{patient.pk}/?tab=contacts" in tab and f"/clients/{patient.pk}/?tab=basic" in tab
    assert 'aria-selected="true" href="/messaging/clients/' in tab


def test_shows_the_content_as_sent_even_after_the_template_is_edited(daytime, twilio_sim, staff):
    patient = make_client(first_name="Ana", last_name="Lopez")
    broadcast_create(message_type=ad_hoc(), channels=["sms"], description="Closed Friday")
    for claim in dispatch.claim_due(now=daytime.now()):
        dispatch.send_claimed(claim.ids, claim.token)
    [sent] = twilio_sim.received()
    template = MessageTemplate.objects.get(message_type=ad_hoc(), channel="sms")
    template.sms_body = "EDITED {{ description }}"
    template.save()
    delivery = Delivery.objects.get(client=patient)
    html = staff.get(url(patient.pk)).content.decode()
    assert sent["params"]["Body"] in html and "Closed Friday" in html and "EDITED" not in html
    assert "Text (SMS)" in html and "Sent" in html and "Attempts: 1" in html
    assert f"/messaging/history/{delivery.pk}/" in html
    assert "GSM-7" in html and "template version 1" in html


def test_a_failed_message_shows_its_category_hard_or_soft_and_the_explanation(staff):
    patient = make_client()
    messages_to(patient, 1, status=Status.FAILED, bounce_category="Bad-Mailbox", hard_bounce=True, attempt_count=2)
    messages_to(patient, 1, status=Status.FAILED, bounce_category="Policy-Related", hard_bounce=False)
    html = staff.get(url(patient.pk)).content.decode()
    assert ">Failed<" in html and "Bad-Mailbox" in html and "Attempts: 2" in html
    assert '<span class="badge bad">Hard</span>' in html and '<span class="badge warn">Soft</span>' in html
    for category in ("Bad-Mailbox", "Policy-Related"):  # the channel's own words, as History shows them
        words = explain(category, "sms")
        assert words and escape(words.meaning) in html and escape(words.next_step) in html


def test_a_message_not_sent_yet_says_so(staff):
    patient = make_client()
    messages_to(patient, 1, content=False, status=Status.QUEUED)
    html = staff.get(url(patient.pk)).content.decode()
    assert "Waiting to go out" in html and "Not sent yet" in html


def test_replies_do_not_send_entries_and_consent_changes_are_listed(staff, staff_user):
    patient = make_client(first_name="Rosa", last_name="Reyes")
    appointment = make_appointment(patient)
    messages_to(patient, 1)
    number = str(patient.cell_phone)
    handle_inbound_text(InboundText(provider_message_id="SM-c", from_number=number, to_number="+1", body="C"))
    handle_inbound_text(InboundText(provider_message_id="SM-s", from_number=number, to_number="+1", body="STOP"))
    appointment_reply(appointment=appointment, answer="decline", source="voice", text="")
    messaging_profile_update(client=patient, changes={"consent_given": False}, user=staff_user)
    assert DoNotSendEntry.objects.filter(channel=DnsChannel.SMS, address=number, active=True).exists()
    html = staff.get(url(patient.pk)).content.decode()
    assert "Confirmed the appointment" in html and "Stopped texts (STOP)" in html
    assert "Phone keypad" in html
    assert "Messaging Consent Given changed" in html and "Yes → No" in html and "by staff" in html
    assert "Replied STOP to texts changed" in html and "the client&#x27;s text reply" in html
    assert "Added to the Do-Not-Send list" in html and 'id="dns-warnings"' in html


def test_an_email_domain_entry_for_the_clients_address_is_listed(staff):
    patient = make_client(email="rosa@blocked.example")
    DoNotSendEntry.objects.create(
        channel=DnsChannel.EMAIL, address="blocked.example", is_domain=True, reason=DnsReason.STAFF
    )
    html = staff.get(url(patient.pk)).content.decode()
    assert "domain @blocked.example" in html


def test_only_this_clients_items_are_shown(staff):
    patient, other = make_client(), make_client()
    mine = messages_to(patient, 2)
    theirs = messages_to(other, 2)
    html = staff.get(url(patient.pk)).content.decode()
    assert all(f'id="message-{d.pk}"' in html for d in mine)
    assert not any(f'id="message-{d.pk}"' in html for d in theirs)


def test_viewing_the_tab_writes_the_access_log(staff, staff_user):
    patient = make_client()
    messages_to(patient, 3)
    staff.get(url(patient.pk))
    row = AccessLog.objects.get(kind=AccessKind.CLIENT_CHART, client_id=patient.pk)
    assert row.user == staff_user and row.object_ids == str(patient.pk) and row.rows == 3
    assert "tab=messages" in row.summary


def test_query_count_does_not_grow_with_the_number_of_messages(staff):
    few, many = make_client(), make_client()
    messages_to(few, 2)
    messages_to(many, 40)
    for patient in (few, many):
        handle_inbound_text(
            InboundText(
                provider_message_id=f"SM{patient.pk}", from_number=str(patient.cell_phone), to_number="+1", body="?"
            )
        )
    staff.get(url(few.pk))  # the first request of a session reads what later ones have cached
    counts = []
    for patient in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert staff.get(url(patient.pk)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_pages_cover_every_item_once_newest_first():
    patient = make_client()
    made = messages_to(patient, 23, start=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    # Same instant as a message: the tie is broken by source, then id, and nothing is lost.
    DoNotSendEntry.objects.create(
        channel=DnsChannel.SMS,
        address=str(patient.cell_phone),
        reason=DnsReason.STAFF,
        created_at=made[10].created_at,
    )
    seen, after = [], None
    while True:
        page = chart_messages(patient, after=after, size=5)
        seen += [(item.kind, item.id) for item in page.items]
        if not page.next_cursor:
            break
        after = Cursor.decode(page.next_cursor)
    messages = [item for item in seen if item[0] == "message"]
    assert messages == [("message", d.pk) for d in reversed(made)]
    assert len(seen) == len(set(seen)) == 24
    dns_at = seen.index(next(item for item in seen if item[0] == "dns"))
    assert seen[dns_at - 1] == ("message", made[10].pk)


def test_the_page_has_an_older_link_and_a_malformed_cursor_is_the_first_page(staff):
    patient = make_client()
    messages_to(patient, 55)
    html = staff.get(url(patient.pk)).content.decode()
    assert "Older ›" in html and html.count('class="cm-message"') == 50
    older = staff.get(url(patient.pk) + "?after=" + chart_messages(patient).next_cursor).content.decode()
    assert older.count('class="cm-message"') == 5 and "« Newest" in older
    for bad in ("x", "1.2", "1.9.1", "99999999999999999999.5.1", "-1.5.1"):
        assert staff.get(url(patient.pk) + "?after=" + bad).status_code == 200


@pytest.mark.parametrize("text", ["", "garbage", "1.2", "1.6.3", "9" * 19 + ".5.1"])
def test_malformed_cursors_decode_to_none(text):
    assert Cursor.decode(text) is None


def test_cursor_round_trip():
    cursor = Cursor(at=dt.datetime(2030, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC), rank=5, id=42)
    assert Cursor.decode(cursor.encode()) == cursor


def test_history_link_filters_to_the_client(staff):
    patient, other = make_client(), make_client()
    mine, theirs = messages_to(patient, 1)[0], messages_to(other, 1)[0]
    html = staff.get(url(patient.pk)).content.decode()
    assert f'href="/messaging/history/?client={patient.pk}"' in html
    history = staff.get(f"/messaging/history/?client={patient.pk}").content.decode()
    assert f'data-delivery="{mine.pk}"' in history and f'data-delivery="{theirs.pk}"' not in history
    assert "One client's messages" in history
    assert staff.get("/messaging/history/?client=99999999999999999999999").status_code == 200


# --- Scheduled Appointments: every message sent for an appointment, manual ones included --------------


def test_scheduled_appointments_lists_reminders_sent_from_the_new_tab(daytime, twilio_sim, staff, staff_user):
    patient = make_client(first_name="Rosa", last_name="Reyes")
    appointment = make_appointment(patient, start=daytime.now() + dt.timedelta(days=1))
    reminder = MessageType.objects.get(code="client-upcoming-appointment")
    day = appointment.start.date()
    for description in ("First reminder", "Second reminder"):
        broadcast_create(
            message_type=reminder,
            channels=["sms"],
            user=staff_user,
            description=description,
            start_date=day - dt.timedelta(days=1),
            end_date=day + dt.timedelta(days=1),
        )
    sent = list(Delivery.objects.filter(appointment=appointment).order_by("id"))
    assert len(sent) == 2 and not any(d.broadcast.automated for d in sent)
    for claim in dispatch.claim_due(now=daytime.now()):
        dispatch.send_claimed(claim.ids, claim.token)
    html = staff.get("/messaging/appointments/").content.decode()
    row = html[html.index(f'id="appointment-{appointment.pk}"') :].split("</tr>")[0]
    assert "Messages sent" in html and "Automated messages" not in html
    assert "None yet" not in row
    for d in sent:
        assert f'data-delivery="{d.pk}"' in row and f"/messaging/history/{d.pk}/" in row
    assert (
        row.count('class="message-line"') == 2
        and row.count("Text (SMS) ·") == 2
        and row.count(">Sent<") == 2
        and staff_user.username in row
    )


def test_scheduled_appointments_query_count_does_not_grow_with_messages(staff):
    rows = []
    for n in (1, 6):
        patient = make_client()
        appointment = make_appointment(patient)
        made = messages_to(patient, n)
        Delivery.objects.filter(pk__in=[d.pk for d in made]).update(appointment=appointment)
        staff.get("/messaging/appointments/")
        with CaptureQueriesContext(connection) as queries:
            html = staff.get("/messaging/appointments/").content.decode()
        rows.append(len(queries))
        assert html.count('class="message-line"') == (1 if n == 1 else 7)
    assert rows[0] == rows[1], rows
