"""Who viewed or exported PHI (issue 13, row 7): every PHI screen writes one access-log row (user, time,
address, what: a kind, ids or a filter summary without PHI, how many rows); admins search and export it
and can neither add, edit nor delete a row."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone

from clients.models import PortalAccount
from clients.tests.factories import make_appointment, make_client
from messaging.models import Broadcast, Delivery, MessageType, Status
from messaging.services_settings import setting_update
from messaging.system_settings import clear_cache

pytestmark = pytest.mark.django_db


def access_log() -> Any:
    from core.models import AccessLog  # inside: before row 7 there was no such model

    return AccessLog


def only_entry(**filters: Any) -> Any:
    entries = list(access_log().objects.filter(**filters))
    assert len(entries) == 1, entries
    return entries[0]


def phi_free(entry: Any, *words: str) -> None:
    text = " ".join(str(getattr(entry, f.name)) for f in entry._meta.fields)
    for word in words:
        assert word.lower() not in text.lower(), f"{word!r} in the access log"


@pytest.fixture
def staff(client: Any, staff_user: Any) -> Any:
    client.force_login(staff_user)
    return client


@pytest.fixture
def patient() -> Any:
    return make_client(first_name="Rosa", last_name="Reyes", email="rosa.reyes@example.org")


def delivery_for(patient: Any, *, name: str = "Rosa Reyes", status: str = Status.DELIVERED, **fields: Any) -> Delivery:
    kind = MessageType.objects.get(code="client-upcoming-appointment")
    broadcast = Broadcast.objects.create(message_type=kind, broadcast_at=timezone.now(), channels=["sms"])
    return Delivery.objects.create(
        broadcast=broadcast,
        message_type=kind,
        channel="sms",
        client=patient,
        recipient_name=name,
        address=str(patient.cell_phone),
        status=status,
        sent_at=timezone.now(),
        **fields,
    )


# --- The screens ----------------------------------------------------------------------------------------


@override_settings(TRUSTED_PROXY_HOPS=1)
def test_the_chart_logs_who_when_where_and_which_client(staff: Any, staff_user: Any, patient: Any) -> None:
    before = timezone.now()
    response = staff.get(
        reverse("clients:chart", args=[patient.pk]), REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9"
    )
    assert response.status_code == 200
    entry = only_entry(kind="client_chart")
    assert entry.user == staff_user and entry.username == "staff"
    assert entry.ip == "203.0.113.9"  # the address the trusted proxy saw (pimsy_messaging.logins' rule)
    assert entry.object_ids == str(patient.pk) and entry.client_id == patient.pk
    assert before <= entry.at <= timezone.now()
    phi_free(entry, "Rosa", "Reyes", "rosa.reyes")


def test_a_chart_that_is_not_found_or_forbidden_logs_nothing(client: Any, staff: Any, django_user_model: Any) -> None:
    assert staff.get(reverse("clients:chart", args=[999999])).status_code == 404
    client.force_login(django_user_model.objects.create_user("nobody"))
    assert client.get(reverse("clients:chart", args=[make_client().pk])).status_code == 403
    assert not access_log().objects.exists()


def test_the_chart_partials_log_too(staff: Any, patient: Any) -> None:
    url = reverse("clients:messaging-contact", args=[patient.pk])
    assert staff.get(url, HTTP_HX_REQUEST="true").status_code == 200
    assert only_entry(kind="client_chart").client_id == patient.pk


def test_the_client_list_logs_the_page_size_and_not_the_search_text(staff: Any, patient: Any) -> None:
    make_client(first_name="Other", last_name="Reyes")
    response = staff.get(reverse("clients:list"), {"q": "Reyes"})
    assert response.status_code == 200
    entry = only_entry(kind="client_list")
    assert entry.rows == 2
    assert "search" in entry.summary
    phi_free(entry, "Reyes", "Rosa")


def test_the_delivery_detail_logs_the_delivery_and_its_client(staff: Any, patient: Any) -> None:
    delivery = delivery_for(patient)
    assert staff.get(reverse("messaging:delivery-detail", args=[delivery.pk])).status_code == 200
    entry = only_entry(kind="delivery_detail")
    assert (entry.object_ids, entry.client_id, entry.rows) == (str(delivery.pk), patient.pk, 1)
    phi_free(entry, "Rosa", "Reyes", str(patient.cell_phone))
    assert staff.get(reverse("messaging:delivery-detail", args=[delivery.pk + 1000])).status_code == 404
    assert access_log().objects.count() == 1


def test_the_history_page_logs_its_filters_without_phi_and_the_rows_shown(staff: Any, patient: Any) -> None:
    for _ in range(3):
        delivery_for(patient)
    delivery_for(make_client(), name="Someone Else")
    response = staff.get(reverse("messaging:history"), {"q": "Rosa Reyes", "channel": "sms", "date_from": "2020-01-01"})
    assert response.status_code == 200
    entry = only_entry(kind="history")
    assert entry.rows == 3
    assert "channel=sms" in entry.summary and "date_from=2020-01-01" in entry.summary and "search" in entry.summary
    phi_free(entry, "Rosa", "Reyes")


def test_the_csv_export_is_logged_once_with_the_rows_it_sent(staff: Any, patient: Any) -> None:
    for _ in range(4):
        delivery_for(patient)
    delivery_for(make_client(), name="Someone Else")
    response = staff.get(reverse("messaging:history-export"), {"q": "Rosa Reyes"})
    assert not access_log().objects.exists()  # written when the stream ends: the row count is known then
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(lines) == 1 + 4
    entry = only_entry(kind="history_export")
    assert entry.rows == 4 and "search=(given)" in entry.summary
    phi_free(entry, "Reyes", "Rosa")


def test_an_export_stopped_half_way_is_logged_with_what_was_sent(staff_user: Any, patient: Any) -> None:
    from messaging.views import history_export

    for _ in range(3):
        delivery_for(patient)
    request = RequestFactory().get(reverse("messaging:history-export"))
    request.user = staff_user
    response = history_export(request)  # as the server runs it (the test client would read it all)
    stream = iter(response.streaming_content)
    next(stream), next(stream)  # the header and one row, then the browser goes away
    request_finished.disconnect(close_old_connections)  # keep the test's database open
    try:
        response.close()  # what the server does when the download stops
    finally:
        request_finished.connect(close_old_connections)
    entry = only_entry(kind="history_export")
    assert entry.rows == 1 and "stopped" in entry.summary


def test_the_appointments_screen_logs_its_filters_and_rows(staff: Any, patient: Any) -> None:
    make_appointment(patient, start=timezone.now() + dt.timedelta(days=1))
    make_appointment(make_client(), start=timezone.now() + dt.timedelta(days=2))
    assert staff.get("/messaging/appointments/", {"days": "7"}).status_code == 200
    entry = only_entry(kind="appointments")
    assert entry.rows == 2 and "days=7" in entry.summary
    phi_free(entry, "Rosa", "Reyes")


def test_a_portal_message_read_is_logged_for_the_client(client: Any, patient: Any, django_user_model: Any) -> None:
    setting_update(number=620, value="yes")
    clear_cache()
    user = django_user_model.objects.create_user("rosa", password="portal-pass-123")
    PortalAccount.objects.create(client=patient, user=user)
    delivery = delivery_for(patient)
    client.force_login(user)
    assert client.get(f"/portal/messages/{delivery.pk}/", REMOTE_ADDR="198.51.100.7").status_code == 200
    entry = only_entry(kind="portal_message")
    assert (entry.user, entry.ip, entry.object_ids, entry.client_id) == (
        user,
        "198.51.100.7",
        str(delivery.pk),
        patient.pk,
    )
    assert client.get(f"/portal/messages/{delivery.pk + 1000}/").status_code == 404
    assert access_log().objects.count() == 1


# --- The log itself -------------------------------------------------------------------------------------


def test_a_row_cannot_be_changed_in_code_either(staff: Any, patient: Any) -> None:
    staff.get(reverse("clients:chart", args=[patient.pk]))
    entry = only_entry(kind="client_chart")
    entry.rows = 99
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


@pytest.fixture
def logged(staff: Any, patient: Any) -> Any:
    staff.get(reverse("clients:chart", args=[patient.pk]))
    staff.get(reverse("clients:list"))
    return access_log().objects.get(kind="client_chart")


def test_admins_search_and_read_the_log(admin_client: Any, logged: Any) -> None:
    listing = admin_client.get(reverse("admin:core_accesslog_changelist"), {"q": "staff"})
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 2
    by_kind = admin_client.get(reverse("admin:core_accesslog_changelist"), {"kind__exact": "client_chart"})
    assert by_kind.context["cl"].result_count == 1
    by_client = admin_client.get(reverse("admin:core_accesslog_changelist"), {"client_id": logged.client_id})
    assert by_client.context["cl"].result_count == 1
    assert admin_client.get(reverse("admin:core_accesslog_change", args=[logged.pk])).status_code == 200


def test_admins_export_the_searched_log_as_csv(admin_client: Any, logged: Any) -> None:
    url = reverse("admin:core_accesslog_export")
    assert url in admin_client.get(reverse("admin:core_accesslog_changelist")).content.decode()
    response = admin_client.get(url, {"kind__exact": "client_chart"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["User"] == "staff" and rows[0]["Client id"] == str(logged.client_id)
    assert rows[0]["What"] == "Client chart"


def test_the_export_needs_view_permission(client: Any, staff_user: Any, logged: Any) -> None:
    staff_user.is_staff = True
    staff_user.save()
    client.force_login(staff_user)
    assert client.get(reverse("admin:core_accesslog_export")).status_code == 403


def test_nobody_adds_changes_or_deletes_a_row_in_the_admin(admin_client: Any, logged: Any) -> None:
    log = access_log()
    assert admin_client.get(reverse("admin:core_accesslog_add")).status_code == 403
    change = reverse("admin:core_accesslog_change", args=[logged.pk])
    admin_client.post(change, {"username": "someone-else", "rows": "5"})
    logged.refresh_from_db()
    assert logged.username == "staff"
    assert admin_client.get(reverse("admin:core_accesslog_delete", args=[logged.pk])).status_code == 403
    admin_client.post(
        reverse("admin:core_accesslog_changelist"),
        {"action": "delete_selected", "_selected_action": [e.pk for e in log.objects.all()], "post": "yes"},
    )
    assert log.objects.count() == 2
    assert "delete_selected" not in admin_client.get(reverse("admin:core_accesslog_changelist")).content.decode()


# --- More screens: the New tab, the Do-Not-Send list, the portal inbox, the admin ---------------------------


def new_tab_form(**extra: Any) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "message_type": MessageType.objects.get(code="client-upcoming-appointment").pk,
        "channels": "sms",
        "start_date": today.isoformat(),
        "end_date": (today + dt.timedelta(days=7)).isoformat(),
        "broadcast_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "idempotency_key": "k",
        **extra,
    }


def test_refresh_logs_what_was_listed_and_how_many_rows(staff: Any, patient: Any) -> None:
    make_appointment(patient, start=timezone.now() + dt.timedelta(days=1))
    no_consent = make_client(first_name="Nora", last_name="Noconsent", consent=False)
    make_appointment(no_consent, start=timezone.now() + dt.timedelta(days=2))
    response = staff.post(reverse("messaging:refresh"), new_tab_form(), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Reyes, Rosa" in response.content.decode()
    entry = only_entry(kind="recipient_list")
    assert entry.rows == 2  # one recipient and one excluded person shown
    upcoming = new_tab_form()["message_type"]
    for part in (f"message_type={upcoming}", "channels=sms", "recipients=1 of 1", "excluded=1", "start_date="):
        assert part in entry.summary, entry.summary
    phi_free(entry, "Rosa", "Reyes", "Nora", "Noconsent")
    staff.post(reverse("messaging:refresh"), new_tab_form(end_date="2000-01-01"), HTTP_HX_REQUEST="true")
    assert access_log().objects.count() == 1  # an invalid form lists nobody


def test_a_preview_for_a_real_recipient_is_logged_and_a_sample_is_not(staff: Any, patient: Any) -> None:
    query = {"message_type": new_tab_form()["message_type"], "channels": "sms"}
    assert staff.get(reverse("messaging:preview"), query).status_code == 200  # a sample person
    assert not access_log().objects.exists()
    page = staff.get(reverse("messaging:preview"), {**query, "preview_key": f"c{patient.pk}"}).content.decode()
    assert "Rosa" in page
    entry = only_entry(kind="message_preview")
    assert (entry.object_ids, entry.client_id, entry.rows) == (f"c{patient.pk}", patient.pk, 1)
    assert "channels=sms" in entry.summary
    phi_free(entry, "Rosa", "Reyes")


def test_the_do_not_send_list_logs_its_filters_and_rows(staff: Any) -> None:
    from bounces.services import dns_add

    dns_add(channel="email", address="rosa.reyes@example.org", reason="unsubscribe", note="x")
    dns_add(channel="email", address="rosa.r@example.net", reason="unsubscribe", note="y")
    response = staff.get(reverse("bounces:dns-list"), {"q": "rosa", "channel": "email"})
    assert response.status_code == 200 and "rosa.reyes@example.org" in response.content.decode()
    entry = only_entry(kind="do_not_send_list")
    assert entry.rows == 2 and "search=(given)" in entry.summary and "channel=email" in entry.summary
    phi_free(entry, "rosa")


def test_the_portal_inbox_is_logged_for_the_client(client: Any, patient: Any, django_user_model: Any) -> None:
    setting_update(number=620, value="yes")
    clear_cache()
    user = django_user_model.objects.create_user("rosa", password="portal-pass-123")
    PortalAccount.objects.create(client=patient, user=user)
    delivery_for(patient)
    client.force_login(user)
    assert client.get("/portal/").status_code == 200
    entry = only_entry(kind="portal_inbox")
    assert (entry.user, entry.client_id, entry.rows) == (user, patient.pk, 1)


def test_admin_lists_and_records_of_phi_models_are_logged(admin_client: Any, patient: Any) -> None:
    make_client(first_name="Other", last_name="Person")
    listing = admin_client.get(reverse("admin:clients_client_changelist"), {"q": "Reyes", "is_active__exact": "1"})
    assert listing.status_code == 200
    entry = only_entry(kind="admin_list")
    assert entry.rows == 1 and entry.user.username == "admin"
    assert "model=clients.client" in entry.summary and "search=(given)" in entry.summary
    assert "is_active__exact=1" in entry.summary
    phi_free(entry, "Reyes", "Rosa")
    assert admin_client.get(reverse("admin:clients_client_change", args=[patient.pk])).status_code == 200
    record = only_entry(kind="admin_record")
    assert (record.object_ids, record.client_id, record.summary) == (
        str(patient.pk),
        patient.pk,
        "model=clients.client",
    )
    delivery = delivery_for(patient)
    assert admin_client.get(reverse("admin:messaging_delivery_change", args=[delivery.pk])).status_code == 200
    assert access_log().objects.filter(kind="admin_record", object_ids=str(delivery.pk), client_id=patient.pk).exists()


def test_the_admins_client_autocomplete_is_logged(admin_client: Any, patient: Any) -> None:
    """Picking a client on an appointment lists names as they are typed: each answer is a list shown."""
    params = {"app_label": "clients", "model_name": "appointment", "field_name": "client", "term": "Rey"}
    answer = admin_client.get(reverse("admin:autocomplete"), params)
    assert answer.status_code == 200 and [r["id"] for r in answer.json()["results"]] == [str(patient.pk)]
    entry = only_entry(kind="admin_list")
    assert entry.rows == 1 and "view=autocomplete" in entry.summary and "search=(given)" in entry.summary
    phi_free(entry, "Rey", "Reyes", "Rosa")


def test_admin_pages_that_show_nothing_of_a_client_are_not_logged(admin_client: Any) -> None:
    assert admin_client.get(reverse("admin:messaging_messagetype_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:core_accesslog_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:clients_client_change", args=[999999])).status_code == 302  # not found
    assert not access_log().objects.exists()


def test_every_admin_of_a_phi_model_logs_access() -> None:
    from django.apps import apps
    from django.contrib import admin

    from core.admin import PhiAccessLogged

    phi = {"Client", "Appointment", "AppointmentReply", "PortalAccount", "ProfileChange", "Delivery"}
    phi |= {"MessageContent", "InboundMessage", "ProviderEvent", "DoNotSendEntry", "SoftBounce"}
    models = {m.__name__: m for m in apps.get_models() if m.__name__ in phi}
    assert set(models) == phi
    assert [name for name, m in models.items() if not isinstance(admin.site._registry[m], PhiAccessLogged)] == []
