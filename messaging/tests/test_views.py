from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from bounces.models import DoNotSendEntry
from clients.tests.factories import make_appointment, make_client
from messaging.explanations import explain
from messaging.models import Attempt, Broadcast, Delivery, HistoryLayout, MessageType, ProviderEvent, Status


def user_with(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw-123456")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def sender(client, django_user_model):
    user = user_with(django_user_model, "sender", "send_messages", "view_history")
    client.force_login(user)
    return user


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)


def today():
    return timezone.localdate()


def form_data(message_type, **extra):
    data = {
        "message_type": str(message_type.pk),
        "description": "",
        "start_date": today().isoformat(),
        "end_date": (today() + dt.timedelta(days=7)).isoformat(),
        "broadcast_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "channels": ["sms"],
        "idempotency_key": "key-1",
        "skipped": "",
    }
    data.update(extra)
    return data


@pytest.fixture
def upcoming(db):
    return MessageType.objects.get(code="client-upcoming-appointment")


# --- Permissions ------------------------------------------------------------------------------------

SEND_ENDPOINTS = [
    ("get", "messaging:preview", None),
    ("post", "messaging:refresh", None),
    ("post", "messaging:send", None),
    ("get", "messaging:broadcast-progress", 1),
    ("post", "messaging:broadcast-cancel", 1),
]
HISTORY_ENDPOINTS = [
    ("get", "messaging:history", None),
    ("post", "messaging:history-layout", None),
    ("get", "messaging:history-export", None),
    ("get", "messaging:delivery-detail", 1),
]


def _call(client, method, name, arg):
    url = reverse(name, args=[arg] if arg else [])
    return getattr(client, method)(url)


@pytest.mark.parametrize(("method", "name", "arg"), SEND_ENDPOINTS + HISTORY_ENDPOINTS)
def test_login_required(client, db, method, name, arg):
    response = _call(client, method, name, arg)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(("method", "name", "arg"), SEND_ENDPOINTS)
def test_send_endpoints_need_send_permission(client, django_user_model, method, name, arg):
    client.force_login(user_with(django_user_model, "viewer", "view_history"))
    assert _call(client, method, name, arg).status_code == 403


@pytest.mark.parametrize(("method", "name", "arg"), HISTORY_ENDPOINTS)
def test_history_endpoints_need_history_permission(client, django_user_model, method, name, arg):
    client.force_login(user_with(django_user_model, "senderonly", "send_messages"))
    assert _call(client, method, name, arg).status_code == 403


def test_new_tab_without_any_permission_is_403(client, django_user_model):
    client.force_login(user_with(django_user_model, "nobody"))
    assert client.get(reverse("messaging:new")).status_code == 403


def test_history_only_user_lands_on_history(client, django_user_model):
    client.force_login(user_with(django_user_model, "viewer", "view_history"))
    response = client.get(reverse("messaging:new"))
    assert response.status_code == 302 and response["Location"] == reverse("messaging:history")
    page = client.get(reverse("messaging:history")).content.decode()
    assert ">History<" in page and ">New<" not in page


# --- New tab -----------------------------------------------------------------------------------------


def test_new_tab_has_the_seed_labels(client, sender):
    html = client.get(reverse("messaging:new")).content.decode()
    for label in [
        "Message Types",
        "Description",
        "Start Date",
        "End Date",
        "Broadcast Date",
        "Only Send Based on Preferences",
        "Refresh",
        "Contact Methods",
        "Voice",
        "Text (SMS)",
        "Email",
        "Fax",
        "Are you sure you want to send the message to the listed",
        "<dialog",
        ">Yes<",
        ">No<",
        ">New<",
        ">History<",
    ]:
        assert label in html, label
    assert 'type="datetime-local"' in html


def test_preview_fills_template_with_sms_counts(client, sender, upcoming):
    response = client.get(reverse("messaging:preview"), form_data(upcoming), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="message-contents"' in html and "<html" not in html
    assert "reminder of your appointment" in html
    assert "GSM-7" in html and "segment" in html and "characters" in html


def test_preview_warns_about_clinical_words(client, sender, upcoming):
    template = upcoming.templates.get(channel="sms")
    template.sms_body = "Your methadone dose appointment is {{ appointment_date }}."
    template.save()
    html = client.get(reverse("messaging:preview"), form_data(upcoming), HTTP_HX_REQUEST="true").content.decode()
    assert "methadone" in html and "Clinical details" in html


def test_refresh_lists_recipients_and_exclusions(client, sender, upcoming):
    ok = make_client(first_name="Olivia", last_name="Ok")
    no = make_client(first_name="Nora", last_name="Noconsent", consent=False)
    make_appointment(ok, start=timezone.now() + dt.timedelta(days=1))
    make_appointment(no, start=timezone.now() + dt.timedelta(days=1))
    response = client.post(reverse("messaging:refresh"), form_data(upcoming), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    recipients_part, _, excluded_part = html.partition('id="excluded-list"')
    assert "Ok, Olivia" in recipients_part and "Noconsent" not in recipients_part
    assert "Noconsent, Nora" in excluded_part and "No messaging consent" in excluded_part
    assert "Chart" in recipients_part  # the address source
    assert 'data-fresh="1"' in html and 'data-messages="1"' in html
    assert 'hx-swap-oob="true"' in html  # the preview follows the first recipient
    assert "Preview for Olivia Ok" in html


def test_refresh_with_bad_dates_shows_field_error(client, sender, upcoming):
    data = form_data(upcoming, end_date=(today() - dt.timedelta(days=3)).isoformat())
    html = client.post(reverse("messaging:refresh"), data, HTTP_HX_REQUEST="true").content.decode()
    assert "End Date is before Start Date." in html and "has-error" in html


def test_send_creates_one_broadcast_even_when_resubmitted(client, sender, upcoming):
    make_appointment(make_client(), start=timezone.now() + dt.timedelta(days=1))
    url = reverse("messaging:send")
    first = client.post(url, form_data(upcoming), HTTP_HX_REQUEST="true")
    second = client.post(url, form_data(upcoming), HTTP_HX_REQUEST="true")
    assert first.status_code == second.status_code == 200
    assert Broadcast.objects.count() == 1 and Delivery.objects.count() == 1
    html = first.content.decode()
    broadcast = Broadcast.objects.get()
    assert f"Broadcast #{broadcast.pk}" in html
    assert 'hx-trigger="every 2s"' in html  # progress polls until final
    assert 'id="id_idempotency_key"' in html and 'hx-swap-oob="true"' in html  # a fresh key for the next one
    assert broadcast.created_by == sender


def test_send_requires_description_for_manual_types(client, sender):
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    make_client()
    html = client.post(reverse("messaging:send"), form_data(ad_hoc), HTTP_HX_REQUEST="true").content.decode()
    assert "Description is required for Ad Hoc (clients) messages." in html
    assert Broadcast.objects.count() == 0


def test_send_requires_a_contact_method(client, sender, upcoming):
    html = client.post(reverse("messaging:send"), form_data(upcoming, channels=[]), HTTP_HX_REQUEST="true")
    assert "Choose at least one Contact Method." in html.content.decode()


def test_send_with_nobody_to_send_to(client, sender, upcoming):
    make_appointment(make_client(consent=False), start=timezone.now() + dt.timedelta(days=1))
    html = client.post(reverse("messaging:send"), form_data(upcoming), HTTP_HX_REQUEST="true").content.decode()
    assert "Nobody on the list can receive this message" in html
    assert Broadcast.objects.count() == 0


def test_send_skips_unticked_rows(client, sender, upcoming):
    keep = make_appointment(make_client(), start=timezone.now() + dt.timedelta(days=1))
    skip = make_appointment(make_client(), start=timezone.now() + dt.timedelta(days=1))
    client.post(reverse("messaging:send"), form_data(upcoming, skipped=f"a{skip.pk}"), HTTP_HX_REQUEST="true")
    assert list(Delivery.objects.values_list("appointment_id", flat=True)) == [keep.pk]


def test_progress_and_cancel(client, sender, upcoming):
    for _ in range(3):
        make_appointment(make_client(), start=timezone.now() + dt.timedelta(days=1))
    client.post(reverse("messaging:send"), form_data(upcoming), HTTP_HX_REQUEST="true")
    broadcast = Broadcast.objects.get()
    html = client.get(reverse("messaging:broadcast-progress", args=[broadcast.pk])).content.decode()
    assert 'data-count="queued"><dt>Queued</dt><dd>3</dd>' in html
    response = client.post(reverse("messaging:broadcast-cancel", args=[broadcast.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "3 messages cancelled" in html
    assert 'hx-trigger="every 2s"' not in html  # all final: polling stops
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.CANCELLED}


# --- History ------------------------------------------------------------------------------------------


def make_history(message_type, sender, n=3, **fields):
    broadcast = Broadcast.objects.create(
        message_type=message_type,
        broadcast_at=timezone.now(),
        created_by=sender,
        description="March reminders",
        channels=["sms"],
    )
    base = timezone.now() - dt.timedelta(hours=1)
    rows = []
    for i in range(n):
        values = {"status": Status.QUEUED, **fields}
        rows.append(
            Delivery.objects.create(
                broadcast=broadcast,
                message_type=message_type,
                channel="sms",
                recipient_name=f"Person {i:03d}",
                address=f"+1617555{i:04d}",
                created_at=base + dt.timedelta(seconds=i),
                **values,
            )
        )
    return broadcast, rows


def test_detail_link_names_the_recipient_with_the_recipient_column_hidden(client, sender, upcoming):
    make_history(upcoming, sender, n=1)
    HistoryLayout.objects.update_or_create(user=sender, defaults={"columns": ["status", "channel"]})
    html = client.get(reverse("messaging:history")).content.decode()
    assert 'data-col="recipient"' not in html.split('id="history-head"')[1].split("</tr>")[0]
    assert 'aria-label="Details of the message to Person 000"' in html


def test_history_default_columns_and_rows(client, sender, upcoming):
    make_history(upcoming, sender, n=2, status=Status.FAILED, bounce_category="Bad-Mailbox", hard_bounce=True)
    html = client.get(reverse("messaging:history")).content.decode()
    for label in [
        "Sent at",
        "Recipient",
        "Recipient type",
        "Message type",
        "Description",
        "Channel",
        "Address",
        "Status",
        "Error category",
        "Hard/Soft",
        "Sent by",
    ]:
        assert f">{label}</th>" in html, label
    for label in ("Attempts", "Broadcast"):  # a click away (issue 15: the defaults fit a laptop)
        assert f">{label}</th>" not in html, label
    assert "Person 001" in html and "March reminders" in html
    # The category's words on the row's channel (a text here) as a tooltip, never the e-mail wording.
    assert f'title="{escape(explain("Bad-Mailbox", "sms").text)}"' in html and "email box" not in html
    assert html.index("Person 001") < html.index("Person 000")  # newest first


def test_history_row_markup_escapes_every_value(client, sender, upcoming):
    broadcast, [d] = make_history(
        upcoming,
        sender,
        n=1,
        status=Status.FAILED,
        status_reason='Rejected <"x">',
        bounce_category="Bad-Mailbox",
        hard_bounce=True,
    )
    Delivery.objects.filter(pk=d.pk).update(recipient_name='O\'Brien & <Sons> "Ltd"')
    html = client.get(reverse("messaging:history"), HTTP_HX_REQUEST="true").content.decode()
    name = "O&#x27;Brien &amp; &lt;Sons&gt; &quot;Ltd&quot;"
    assert (
        f'<tr data-delivery="{d.pk}">\n        '
        '<td class="c-sent_at" title="Not sent yet"><span class="muted">—</span></td>'
        f'<td class="c-recipient wrap">{name}</td>'
        '<td class="c-recipient_type">Client</td>'
        '<td class="c-message_type wrap">Client Upcoming Appointment</td>'
        '<td class="c-description wrap">March reminders</td>'
        '<td class="c-channel"><span class="ch ch-sms">Text (SMS)</span></td>'
        '<td class="c-address wrap">(617) 555-0000</td>'
        '<td class="c-status" title="Rejected &lt;&quot;x&quot;&gt;"><span class="badge bad">Failed</span></td>'
        f'<td class="c-error_category has-tip" title="{escape(explain("Bad-Mailbox", "sms").text)}">Bad-Mailbox</td>'
        '<td class="c-hard_soft"><span class="badge bad">Hard</span></td>'
        '<td class="c-sent_by">sender</td>\n        '
        f'<td class="fixed"><a href="{reverse("messaging:delivery-detail", args=[d.pk])}" '
        f'aria-label="Details of the message to {name}" title="Attempts and provider callbacks">›</a></td>\n'
        "      </tr>"
    ) in html


def test_history_keyset_pages(client, sender, upcoming):
    make_history(upcoming, sender, n=120)
    first = client.get(reverse("messaging:history"), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in first and first.count('data-delivery="') == 50
    assert "Person 119" in first and "Person 070" in first and "Person 069" not in first
    cursor = first.split("after=")[1].split('"')[0]
    second = client.get(reverse("messaging:history"), {"after": cursor}).content.decode()
    assert "Person 069" in second and "Person 020" in second and "Person 070" not in second
    back = second.split("before=")[1].split('"')[0]
    newer = client.get(reverse("messaging:history"), {"before": back}).content.decode()
    assert "Person 070" in newer and "Person 119" in newer and "Person 069" not in newer


def test_history_filters(client, sender, upcoming):
    make_history(upcoming, sender, n=3)
    _, failed = make_history(
        upcoming, sender, n=1, status=Status.FAILED, hard_bounce=False, bounce_category="Quota-Issues"
    )
    failed[0].recipient_name = "Zelda Quota"
    failed[0].save()
    html = client.get(reverse("messaging:history"), {"status": "failed", "bounce": "soft"}).content.decode()
    assert "Zelda Quota" in html and "Person 001" not in html
    html = client.get(reverse("messaging:history"), {"q": "zelda"}).content.decode()
    assert "Zelda Quota" in html and "Person 001" not in html
    html = client.get(reverse("messaging:history"), {"q": "(617) 555-0002"}).content.decode()
    assert "Person 002" in html and "Person 001" not in html
    html = client.get(reverse("messaging:history"), {"date_from": "2001-01-01", "date_to": "2000-01-01"}).content
    assert "is before" in html.decode()


def test_history_layout_saved_and_restored(client, sender, upcoming):
    make_history(upcoming, sender, n=1)
    response = client.post(
        reverse("messaging:history-layout"), {"columns": "status,recipient,bogus,error_code"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert HistoryLayout.objects.get(user=sender).columns == ["status", "recipient", "error_code"]
    html = client.get(reverse("messaging:history")).content.decode()
    head = html.split('id="history-head"')[1].split("</tr>")[0]
    assert head.index('data-col="status"') < head.index('data-col="recipient"') < head.index('data-col="error_code"')
    assert 'data-col="sent_at"' not in head
    assert client.post(reverse("messaging:history-layout"), {"columns": "nope"}).status_code == 400


def test_csv_export_streams_filtered_rows(client, sender, upcoming):
    _, rows = make_history(upcoming, sender, n=3)
    rows[0].recipient_name = "=HYPERLINK(evil)"
    rows[0].save()
    response = client.get(reverse("messaging:history-export"), {"channel": "sms"})
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    lines = text.strip().splitlines()
    assert lines[0].startswith("Sent at,Recipient,Recipient type")
    assert len(lines) == 4
    assert "'=HYPERLINK(evil)" in text  # formula neutralised
    empty = client.get(reverse("messaging:history-export"), {"channel": "fax"})
    assert len(b"".join(empty.streaming_content).decode().strip().splitlines()) == 1


def test_delivery_detail_lists_attempts_and_events_in_order(client, sender, upcoming):
    _, [delivery] = make_history(
        upcoming, sender, n=1, status=Status.FAILED, bounce_category="Bad-Mailbox", hard_bounce=True
    )
    t0 = timezone.now()
    Attempt.objects.create(
        delivery=delivery, number=1, started_at=t0, outcome="failed", error_code="30003", response={"sid": "SM1"}
    )
    Attempt.objects.create(
        delivery=delivery, number=2, kind="resend", started_at=t0 + dt.timedelta(minutes=5), outcome="failed"
    )
    ProviderEvent.objects.create(
        delivery=delivery,
        provider="twilio",
        event_id="e2",
        event_type="status",
        status="undelivered",
        received_at=t0 + dt.timedelta(minutes=6),
        payload={"ErrorCode": "30003"},
    )
    ProviderEvent.objects.create(
        delivery=delivery,
        provider="twilio",
        event_id="e1",
        event_type="status",
        status="sent",
        received_at=t0 + dt.timedelta(minutes=1),
    )
    html = client.get(reverse("messaging:delivery-detail", args=[delivery.pk])).content.decode()
    timeline = html.split('id="timeline"')[1].split("</ol>")[0]
    order = [timeline.index(s) for s in ["Attempt 1", "twilio status: sent", "Attempt 2", "twilio status: undelivered"]]
    assert order == sorted(order)
    assert escape(explain("Bad-Mailbox", "sms").meaning) in html and "email box" not in html
    assert "&quot;ErrorCode&quot;: &quot;30003&quot;" in html
    assert client.get(reverse("messaging:delivery-detail", args=[999999])).status_code == 404


def test_suppressed_dns_rows_appear_in_history(client, sender, upcoming):
    blocked = make_client(last_name="Blocked")
    make_appointment(blocked, start=timezone.now() + dt.timedelta(days=1))
    make_appointment(make_client(), start=timezone.now() + dt.timedelta(days=1))
    DoNotSendEntry.objects.create(channel="sms", address=str(blocked.cell_phone), reason="unsubscribe")
    client.post(reverse("messaging:send"), form_data(upcoming), HTTP_HX_REQUEST="true")
    html = client.get(reverse("messaging:history"), {"status": "suppressed"}).content.decode()
    assert "Blocked, Client" in html and ">DNS<" in html
