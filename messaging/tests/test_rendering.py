from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.contrib.auth import get_user_model

from clients.models import StaffProfile
from clients.tests.factories import make_appointment, make_client
from messaging.models import Broadcast, Delivery, MessageTemplate, MessageType
from messaging.rendering import (
    NEUTRAL_CLINICIAN,
    NEUTRAL_LOCATION,
    PLACEHOLDERS,
    Rendered,
    delivery_context,
    render_delivery,
    render_for,
    substitute,
    unknown_placeholders,
)

NY = zoneinfo.ZoneInfo("America/New_York")


def test_substitute_whitelist_only():
    context = {"first_name": "Ana", "practice_name": "Riverbend"}
    text = "Hi {{ first_name }}, {{practice_name}}. {{ client.diagnosis }}{{ first_name|upper }}{{ secret }}"
    assert substitute(text, context) == "Hi Ana, Riverbend. "


def test_substitute_never_reaches_attributes():
    # A context value that is an object is stringified, never traversed.
    assert substitute("{{ first_name.__class__ }}", {"first_name": "x"}) == ""
    assert substitute("{{ first_name }}", {"first_name": "{{ practice_name }}"}) == "{{ practice_name }}"


def test_html_parts_are_escaped():
    assert substitute("<p>{{ first_name }}</p>", {"first_name": "<b>A&B</b>"}, escape_html=True) == (
        "<p>&lt;b&gt;A&amp;B&lt;/b&gt;</p>"
    )


def test_unknown_placeholders_listed_once():
    assert unknown_placeholders("{{ foo }} {{ first_name }} {{ foo }} {{ a.b }}") == ["foo", "a.b"]


def test_placeholders_documented_for_every_bootstrap_template(db):
    for template in MessageTemplate.objects.all():
        for text in (
            template.sms_body,
            template.email_subject,
            template.email_text,
            template.voice_script,
            template.fax_body,
        ):
            assert unknown_placeholders(text) == [], (template, text)
    assert "appointment_time" in PLACEHOLDERS


@pytest.fixture
def appointment_delivery(db):
    client = make_client(first_name="Maria", preferred_name="Mia", time_zone="America/Chicago")
    clinician = get_user_model().objects.create_user("drlee", first_name="Jordan", last_name="Lee")
    StaffProfile.objects.create(user=clinician, display_name="Jordan Lee, LCSW")
    appointment = make_appointment(
        client, start=dt.datetime(2030, 3, 5, 15, 30, tzinfo=NY), clinician=clinician, location="Main Office"
    )
    message_type = MessageType.objects.get(code="client-upcoming-appointment")
    broadcast = Broadcast.objects.create(message_type=message_type, broadcast_at=dt.datetime(2030, 3, 3, tzinfo=NY))
    return Delivery.objects.create(
        broadcast=broadcast,
        message_type=message_type,
        channel="sms",
        client=client,
        appointment=appointment,
        address=str(client.cell_phone),
    )


def test_delivery_context_uses_recipient_zone(appointment_delivery):
    context = delivery_context(appointment_delivery)
    assert context["first_name"] == "Mia"
    assert context["appointment_date"] == "Tuesday, March 5"
    assert context["appointment_time"] == "2:30 PM CST"  # clinic is New York; the client is in Chicago
    assert context["clinician_name"] == "Jordan Lee, LCSW"
    assert context["location"] == "Main Office"
    assert context["confirm_instructions"] == "Reply C to confirm or N to cancel."


def test_render_delivery_sms(appointment_delivery):
    rendered = render_delivery(appointment_delivery)
    assert isinstance(rendered, Rendered)
    assert rendered.sms_body.startswith("Riverbend Behavioral Health: reminder of your appointment on Tuesday, March 5")
    assert "{{" not in rendered.sms_body
    assert rendered.voice_audio_url is None


def test_render_for_every_channel_part(appointment_delivery):
    template = MessageTemplate.objects.get(message_type__code="client-upcoming-appointment", channel="email")
    template.email_subject = "Reminder\r\nBcc: evil@example.org for {{ first_name }}"
    rendered = render_for(template=template, context=delivery_context(appointment_delivery))
    assert rendered.email_subject == "Reminder Bcc: evil@example.org for Mia"  # one line: no header injection
    assert "Hello Mia" in rendered.email_text and "<p>Hello Mia" in rendered.email_html


def test_part2_client_gets_neutral_wording(appointment_delivery):
    client = appointment_delivery.client
    client.part2_diagnosis = True
    client.save()
    appointment = appointment_delivery.appointment
    appointment.location = "Opioid Treatment Program, Suite 4"
    appointment.save()
    context = delivery_context(Delivery.objects.get(pk=appointment_delivery.pk))
    assert context["clinician_name"] == NEUTRAL_CLINICIAN
    assert context["location"] == NEUTRAL_LOCATION


def test_staff_renewal_context(db):
    user = get_user_model().objects.create_user("nurse", first_name="Pat", email="pat@example.org")
    StaffProfile.objects.create(
        user=user,
        licence_name="RN licence",
        licence_renewal_date=dt.date(2030, 6, 1),
        credential_name="CPR",
        credential_renewal_date=dt.date(2030, 4, 1),
    )
    message_type = MessageType.objects.get(code="user-renewals")
    broadcast = Broadcast.objects.create(
        message_type=message_type,
        broadcast_at=dt.datetime(2030, 3, 1, tzinfo=NY),
        start_date=dt.date(2030, 5, 1),
        end_date=dt.date(2030, 6, 30),
    )
    delivery = Delivery.objects.create(
        broadcast=broadcast,
        message_type=message_type,
        channel="email",
        user=user,
        recipient_type="staff",
        address=user.email,
    )
    rendered = render_delivery(delivery)
    assert rendered.email_subject == "Renewal due: RN licence"
    assert "Saturday, June 1" in rendered.email_text


def test_statement_message_comes_from_setting_182(db):
    from messaging.services_settings import setting_update

    setting_update(number=182, value="Your balance statement is ready.", user=None)
    client = make_client()
    message_type = MessageType.objects.get(code="billing-statement")
    broadcast = Broadcast.objects.create(message_type=message_type, broadcast_at=dt.datetime(2030, 3, 1, tzinfo=NY))
    delivery = Delivery.objects.create(
        broadcast=broadcast, message_type=message_type, channel="sms", client=client, address="+16175551234"
    )
    assert render_delivery(delivery).sms_body.endswith("Your balance statement is ready.")
