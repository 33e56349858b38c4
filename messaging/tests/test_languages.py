"""Issue 14 §4: a client gets the template in their language (else the clinic's default), dates and
times written in it; the Refresh list shows the language and tells same-name clients apart."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.tests.factories import make_appointment, make_client
from messaging.broadcasts import broadcast_create
from messaging.content import Versions, rendered_for
from messaging.dispatch.send import _render, _TemplateCache
from messaging.languages import choose, language_note
from messaging.models import Delivery, MessageTemplate, MessageType, TemplateVersion
from messaging.rendering import format_date, format_time

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
# A Tuesday, 2:30 PM in the clinic's time zone.
WHEN = dt.datetime(2030, 3, 5, 14, 30, tzinfo=NY)
SPANISH_SMS = "Cita el {{ appointment_date }} a las {{ appointment_time }}. {{ confirm_instructions }}"


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)


@pytest.fixture
def upcoming() -> MessageType:
    message_type = MessageType.objects.get(code="client-upcoming-appointment")
    MessageTemplate.objects.create(message_type=message_type, channel="sms", language="es", sms_body=SPANISH_SMS)
    return message_type


def send_to(message_type: MessageType, *clients, channels=("sms",)) -> list[Delivery]:
    for c in clients:
        make_appointment(c, start=WHEN)
    result = broadcast_create(
        message_type=message_type, channels=list(channels), start_date=WHEN.date(), end_date=WHEN.date()
    )
    return list(
        Delivery.objects.filter(broadcast=result.broadcast).select_related("template_version").order_by("client_id")
    )


# --- Choosing the variant ----------------------------------------------------------------------------


def test_choose_their_language_else_the_default_else_any(settings):
    assert choose({"en", "es"}, "es") == "es"
    assert choose({"en"}, "es") == "en"
    assert choose({"fr", "vi"}, "es") == "fr"  # neither theirs nor the default: any (first by code)
    assert choose(set(), "es") is None
    settings.CLINIC_DEFAULT_LANGUAGE = "es"
    assert choose({"en", "es"}, "fr") == "es"
    assert choose({"en", "es"}, None) == "es"  # staff: the default


def test_language_note_says_what_they_get():
    assert language_note("es", "es") == "Spanish"
    assert language_note("es", "en") == "English (no Spanish text)"
    assert language_note("other", "en") == "English (prefers another language)"


def test_each_client_gets_the_version_of_their_language(upcoming):
    ana = make_client(first_name="Ana", preferred_language="es")
    bob = make_client(first_name="Bob", preferred_language="en")
    zoe = make_client(first_name="Zoe", preferred_language="vi")  # no Vietnamese text: the default's
    by_client = {d.client_id: d for d in send_to(upcoming, ana, bob, zoe)}
    assert by_client[ana.pk].template_version.language == "es"
    assert by_client[ana.pk].template_version.sms_body == SPANISH_SMS
    assert by_client[bob.pk].template_version.language == "en"
    assert by_client[zoe.pk].template_version.language == "en"


def test_a_channel_without_their_language_falls_back_to_the_default(upcoming):
    ana = make_client(first_name="Ana", preferred_language="es")
    deliveries = send_to(upcoming, ana, channels=("sms", "email"))
    assert {d.channel: d.template_version.language for d in deliveries} == {"sms": "es", "email": "en"}


def test_the_clinic_default_language_is_what_others_and_staff_get(upcoming, settings):
    settings.CLINIC_DEFAULT_LANGUAGE = "es"
    versions = Versions()
    spanish = versions.id_for(upcoming.pk, "sms", "fr")
    assert TemplateVersion.objects.get(pk=spanish).language == "es"
    assert versions.id_for(upcoming.pk, "sms", None) == spanish
    assert TemplateVersion.objects.get(pk=versions.id_for(upcoming.pk, "sms", "en")).language == "en"


def test_versions_are_numbered_per_language(upcoming):
    ana, bob = make_client(preferred_language="es"), make_client(preferred_language="en")
    send_to(upcoming, ana, bob)
    numbers = dict(
        TemplateVersion.objects.filter(message_type=upcoming, channel="sms").values_list("language", "number")
    )
    assert numbers == {"en": 1, "es": 1}


def test_send_costs_the_same_queries_whatever_the_number_of_recipients(upcoming):
    def queries_for(n: int) -> int:
        clients = [make_client(preferred_language="es" if i % 2 else "en") for i in range(n)]
        for c in clients:
            make_appointment(c, start=WHEN + dt.timedelta(days=n))
        day = (WHEN + dt.timedelta(days=n)).date()
        with CaptureQueriesContext(connection) as ctx:
            broadcast_create(message_type=upcoming, channels=["sms", "email"], start_date=day, end_date=day)
        return len(ctx.captured_queries)

    queries_for(2)  # the first Send makes the versions
    assert queries_for(3) == queries_for(12)


def test_the_planner_writes_automated_reminders_in_their_language(upcoming):
    from core import clock
    from messaging.automation import run_planner

    ana = make_client(first_name="Ana", preferred_language="es", time_zone="America/New_York")
    bob = make_client(first_name="Bob", preferred_language="en", time_zone="America/New_York")
    for c in (ana, bob):
        make_appointment(c, start=WHEN)
    with clock.freeze(WHEN - dt.timedelta(days=2, hours=6)):
        run_planner()
    planned = {
        d.client_id: d for d in Delivery.objects.filter(message_type=upcoming).select_related("template_version")
    }
    assert planned[ana.pk].template_version.language == "es"
    assert planned[bob.pk].template_version.language == "en"
    assert rendered_for(planned[ana.pk]).sms_body.startswith("Cita el martes 5 de marzo a las 14:30.")


# --- Dates and times in the language --------------------------------------------------------------------


def test_spanish_dates_and_times():
    assert format_date(WHEN, "es") == "martes 5 de marzo"
    assert format_time(WHEN, "es") == "14:30"
    assert format_date(WHEN.date(), "fr") == "mardi 5 mars"
    assert format_date(WHEN) == "Tuesday, March 5" and format_time(WHEN) == "2:30 PM"
    assert format_date(WHEN, "en") == "Tuesday, March 5" and format_time(WHEN, "other") == "2:30 PM"


def test_a_spanish_message_is_sent_with_spanish_dates(upcoming):
    ana = make_client(first_name="Ana", preferred_language="es")
    bob = make_client(first_name="Bob", preferred_language="en")
    spanish, english = send_to(upcoming, ana, bob)
    cache = _TemplateCache()
    sent = _render(Delivery.objects.get(pk=spanish.pk), cache).sms_body  # what the dispatcher sends
    assert sent.startswith("Cita el martes 5 de marzo a las 14:30.")
    assert "Responda C para confirmar" in sent
    assert "Tuesday, March 5 at 2:30 PM" in _render(Delivery.objects.get(pk=english.pk), cache).sms_body
    assert rendered_for(Delivery.objects.get(pk=spanish.pk)).sms_body == sent  # History's "will say"


# --- The Refresh list ----------------------------------------------------------------------------------


@pytest.fixture
def sender(client, django_user_model):
    user = django_user_model.objects.create_user("sender", password="pw-123456")
    user.user_permissions.set(Permission.objects.filter(codename__in=["send_messages", "view_history"]))
    client.force_login(user)
    return user


def refresh(client, message_type, channels=("sms",)):
    start = timezone.localdate() + dt.timedelta(days=1)
    data = {
        "message_type": str(message_type.pk),
        "description": "",
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=60)).isoformat(),
        "broadcast_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "channels": list(channels),
        "idempotency_key": "key-1",
        "skipped": "",
    }
    return client.post(reverse("messaging:refresh"), data, HTTP_HX_REQUEST="true")


def row_of(html: str, name: str) -> str:
    start = html.index(name)
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


def test_refresh_shows_each_recipients_language_and_date_of_birth(client, sender, upcoming):
    soon = timezone.now() + dt.timedelta(days=2)
    ana = make_client(first_name="Ana", last_name="Garcia", preferred_language="es", date_of_birth=dt.date(1980, 2, 1))
    make_appointment(ana, start=soon)
    twin = make_client(first_name="Ezra", last_name="Anderson", date_of_birth=dt.date(1975, 6, 9))
    other_twin = make_client(first_name="Ezra", last_name="Anderson", date_of_birth=dt.date(1991, 11, 23))
    make_appointment(twin, start=soon)
    make_appointment(other_twin, start=soon + dt.timedelta(hours=1))
    html = refresh(client, upcoming, channels=("sms", "email")).content.decode()
    assert "<th>Language</th>" in html
    ana_row = row_of(html, "Garcia, Ana")
    assert "Spanish: Text (SMS); English (no Spanish text): Email" in ana_row
    assert "DOB 02/01/1980" in ana_row
    assert "DOB 06/09/1975" in html and "DOB 11/23/1991" in html  # the two Ezra Andersons
    assert ">English</td>" in row_of(html, "DOB 06/09/1975")
    sms_only = refresh(client, upcoming).content.decode()
    assert '<td class="language">Spanish</td>' in row_of(sms_only, "Garcia, Ana")
    # The preview follows the first recipient (Ana): the Spanish text with a Spanish date.
    assert "preview-language" in sms_only and "Cita el " in sms_only and " a las " in sms_only


def test_refresh_queries_do_not_grow_with_recipients(client, sender, upcoming):
    def queries_for(n: int) -> int:
        for i in range(n):
            c = make_client(preferred_language="es" if i % 2 else "en", date_of_birth=dt.date(1980, 1, 1 + i))
            make_appointment(c, start=timezone.now() + dt.timedelta(days=3))
        with CaptureQueriesContext(connection) as ctx:
            response = refresh(client, upcoming, channels=("sms", "email"))
        assert response.status_code == 200
        return len(ctx.captured_queries)

    queries_for(1)  # the first request fills the settings cache and the session
    assert queries_for(2) == queries_for(15) <= 14


# --- The Templates screen -------------------------------------------------------------------------------


@pytest.fixture
def manager(client, django_user_model):
    user = django_user_model.objects.create_user("tina", password="pw-12345678")
    user.user_permissions.set(Permission.objects.filter(codename__in=["manage_templates", "send_messages"]))
    client.force_login(user)
    return user


def test_templates_screen_adds_a_spanish_variant(client, manager):
    post = MessageType.objects.get(code="post-appointment-message")
    english = MessageTemplate.objects.get(message_type=post, channel="sms")
    url = reverse("messaging:templates-edit", args=[post.pk, "sms"])
    page = client.get(url + "?language=es").content.decode()
    assert 'id="translating-from"' in page and english.sms_body in page  # starts from the English text
    response = client.post(url + "?language=es", {"language": "es", "sms_body": "Gracias, {{ first_name }}."})
    assert response.status_code == 302 and response["Location"] == url + "?language=es"
    spanish = MessageTemplate.objects.get(message_type=post, channel="sms", language="es")
    assert spanish.sms_body == "Gracias, {{ first_name }}."
    english.refresh_from_db()
    assert english.sms_body.startswith("{{ practice_name }}: thank you")  # unchanged
    version = TemplateVersion.objects.get(message_type=post, channel="sms", language="es")
    assert version.number == 1 and version.created_by == manager
    client.post(url + "?language=es", {"language": "es", "sms_body": "Muchas gracias, {{ first_name }}."})
    assert TemplateVersion.objects.filter(message_type=post, channel="sms", language="es").count() == 2
    listing = client.get(reverse("messaging:templates")).content.decode()
    assert "Text (SMS) · Spanish v2" in listing
    assert "Spanish v2" in client.get(reverse("messaging:templates-type", args=[post.pk])).content.decode()


def test_templates_screen_preview_writes_dates_in_the_language(client, manager):
    post = MessageType.objects.get(code="client-upcoming-appointment")
    url = reverse("messaging:templates-preview", args=[post.pk, "sms"])
    html = client.post(url, {"language": "es", "sms_body": "El {{ appointment_date }}"}).content.decode()
    weekdays = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
    assert any(f"El {day} " in html for day in weekdays)


def test_templates_screen_bad_language_is_a_field_error_not_a_500(client, manager):
    post = MessageType.objects.get(code="post-appointment-message")
    url = reverse("messaging:templates-edit", args=[post.pk, "sms"])
    response = client.post(url, {"language": "xx", "sms_body": "Hi"})
    assert response.status_code == 400 and "Choose a language from the list." in response.content.decode()
    assert not MessageTemplate.objects.filter(message_type=post, language="xx").exists()
    assert client.get(url + "?language=xx").status_code == 404


# --- Demo data -------------------------------------------------------------------------------------------


def test_seed_demo_languages_adds_spanish_texts_once(settings):
    settings.DEMO_MODE = True
    call_command("seed_demo_languages")
    call_command("seed_demo_languages")
    upcoming = MessageType.objects.get(code="client-upcoming-appointment")
    spanish = MessageTemplate.objects.filter(message_type=upcoming, language="es")
    english_channels = set(
        MessageTemplate.objects.filter(message_type=upcoming, language="en").values_list("channel", flat=True)
    )
    assert set(spanish.values_list("channel", flat=True)) == english_channels >= {"sms", "email", "voice"}
    confirmation = MessageType.objects.get(code="initial-appointment-confirmation")
    assert MessageTemplate.objects.filter(message_type=confirmation, language="es", channel="email").exists()
    for template in MessageTemplate.objects.filter(language="es"):
        if template.sms_body:  # one segment's alphabet: no á, í, ó, ú
            assert not set(template.sms_body) & set("áíóú")
