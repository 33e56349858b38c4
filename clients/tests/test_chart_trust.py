"""Issue 15: the chart warns when no message can reach the client, and its change history speaks in labels
with phone numbers in the one display format."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import MessagingContact, ProfileChange
from clients.selectors import audit_field_label, contact_changes, messaging_contact_warning
from clients.services import client_contact_update, messaging_profile_update
from clients.tests.factories import make_client
from core.phones import display_phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_one_phone_format():
    assert display_phone("+13035550199") == "(303) 555-0199"
    assert display_phone("+442079460958") == "+44 20 7946 0958"  # another country: international
    assert display_phone("someone@example.org") == "someone@example.org"
    assert display_phone("") == "" and display_phone(None) == ""
    assert display_phone("+1 Main Street") == "+1 Main Street"  # not a number: as it is


def test_one_phone_format_for_a_clinic_elsewhere(settings):
    settings.PHONENUMBER_DEFAULT_REGION = "GB"
    assert display_phone("+442079460958") == "020 7946 0958"
    assert display_phone("+13035550199") == "+1 303-555-0199"


def test_labels_not_field_names():
    assert audit_field_label("cell_phone") == "Cell phone"
    assert audit_field_label("use_client_detail_info") == "Use Client Detail Info."
    assert audit_field_label("consent_given") == "Messaging Consent Given"
    assert audit_field_label("messaging_contact.email") == "Messaging Contact: E-mail"
    assert audit_field_label("gone_field") == "Gone field"


def test_change_history_on_the_chart_shows_labels_and_formatted_numbers(staff_client, staff_user):
    c = make_client(cell_phone="+13035550100")
    client_contact_update(client=c, data={"cell_phone": "+13035550199"}, user=staff_user)
    messaging_profile_update(client=c, changes={"use_client_detail_info": False}, user=staff_user)
    rows = contact_changes(c)
    assert [(r.label, r.old_value, r.new_value) for r in rows] == [
        ("Use Client Detail Info.", "Yes", "No"),
        ("Cell phone", "(303) 555-0100", "(303) 555-0199"),
    ]
    html = staff_client.get(reverse("clients:chart", args=[c.pk])).content.decode()
    history = html[html.index('id="change-history"') :]
    assert "Cell phone</strong>: (303) 555-0100 → (303) 555-0199" in history
    assert "cell_phone" not in history and "use_client_detail_info" not in history
    assert ProfileChange.objects.filter(field="cell_phone", new_value="+13035550199").exists()  # stored E.164


def test_warning_when_messages_go_to_an_empty_messaging_contact(staff_client, staff_user):
    c = make_client(use_detail=False)
    profile = c.messaging
    assert "no Messaging Contact is entered" in messaging_contact_warning(profile, None)
    html = staff_client.get(reverse("clients:chart", args=[c.pk])).content.decode()
    assert "cannot be sent to this client" in html and "no Messaging Contact is entered" in html

    empty = MessagingContact.objects.create(client=c, name="Rosa (mother)")
    assert "has no cell phone, phone, e-mail or fax" in messaging_contact_warning(profile, empty)
    # Saving a number in the Messaging Contact takes the warning away (htmx: out of band).
    response = staff_client.post(
        reverse("clients:messaging-contact", args=[c.pk]),
        {"name": "Rosa", "cell_phone": "(303) 555-0142"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert 'id="contact-warning" hx-swap-oob="true"' in body and "cannot be sent" not in body
    assert "(303) 555-0142" in body and "+13035550142" not in body
    c.messaging_contact.refresh_from_db()
    assert str(c.messaging_contact.cell_phone) == "+13035550142"
    assert messaging_contact_warning(profile, c.messaging_contact) == ""


def test_no_warning_when_the_chart_is_used(staff_client):
    c = make_client(use_detail=True)
    assert messaging_contact_warning(c.messaging, None) == ""
    html = staff_client.get(reverse("clients:chart", args=[c.pk])).content.decode()
    assert "cannot be sent to this client" not in html and 'id="contact-warning"' in html


def test_client_list_and_alternate_contact_show_one_phone_format(staff_client):
    c = make_client(cell_phone="+13035550177", alternate={"cell_phone": "+442079460958", "name": "Sam"})
    listing = staff_client.get(reverse("clients:list")).content.decode()
    assert "(303) 555-0177" in listing and "+13035550177" not in listing
    chart = staff_client.get(reverse("clients:chart", args=[c.pk])).content.decode()
    assert "+44 20 7946 0958" in chart and "+442079460958" not in chart
