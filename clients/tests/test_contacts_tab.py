"""The chart's Contacts tab: htmx edits, field errors, audit, permissions, phone parsing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from clients.models import Client, ProfileChange
from clients.tests.factories import make_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def profile_post(**overrides):
    data = {
        "consent_given": "True",
        "preferred_contact_method": "email",
        "use_client_detail_info": "True",
        "voicemail_ok": "default",
    }
    data.update(overrides)
    return data


def test_list_and_chart_require_login(client):
    c = make_client()
    for url in (reverse("clients:list"), reverse("clients:chart", args=[c.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_without_permission_403(client, django_user_model):
    c = make_client()
    user = django_user_model.objects.create_user("nobody", password="x")
    client.force_login(user)
    assert client.get(reverse("clients:list")).status_code == 403
    assert client.post(reverse("clients:messaging-profile", args=[c.pk]), profile_post()).status_code == 403


def test_view_only_user_cannot_edit(client, django_user_model):
    c = make_client(consent=False)
    user = django_user_model.objects.create_user("viewer", password="x")
    user.user_permissions.add(Permission.objects.get(codename="view_client"))
    client.force_login(user)
    assert client.get(reverse("clients:chart", args=[c.pk])).status_code == 200
    assert client.post(reverse("clients:messaging-profile", args=[c.pk]), profile_post()).status_code == 403
    c.messaging.refresh_from_db()
    assert c.messaging.consent_given is False


def test_chart_shows_seed_labels(staff_client):
    c = make_client()
    html = staff_client.get(reverse("clients:chart", args=[c.pk])).content.decode()
    assert "Basic Information" in html
    for label in (
        "Client Automated Messaging Contact",
        "Messaging Consent Given",
        "Preferred Contact Method",
        "Use Client Detail Info.",
        "Messaging Contact",
        "Contacts",
    ):
        assert label in html
    for option in ("Text Message", "Email", "Cell Phone", "Fax", "Mail", "Phone"):
        assert f">{option}</option>" in html


def test_htmx_profile_update_records_who_and_when(staff_client, staff_user):
    c = make_client(consent=False)
    response = staff_client.post(
        reverse("clients:messaging-profile", args=[c.pk]), profile_post(), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="messaging-profile"' in body and "<html" not in body  # the partial only
    c.messaging.refresh_from_db()
    assert c.messaging.consent_given is True
    assert c.messaging.preferred_contact_method == "email"
    assert c.messaging.consent_changed_by == staff_user
    assert c.messaging.consent_changed_at is not None
    fields = set(ProfileChange.objects.filter(client=c).values_list("field", flat=True))
    assert fields == {"consent_given", "preferred_contact_method"}
    change = ProfileChange.objects.get(client=c, field="consent_given")
    assert (change.old_value, change.new_value, change.changed_by) == ("No", "Yes", staff_user)


def test_invalid_choice_shows_field_error_and_keeps_data(staff_client):
    c = make_client(consent=True, preferred="text")
    response = staff_client.post(
        reverse("clients:messaging-profile", args=[c.pk]),
        profile_post(preferred_contact_method="pigeon"),
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert "field-error" in body and "Select a valid choice" in body
    c.messaging.refresh_from_db()
    assert c.messaging.preferred_contact_method == "text"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("(617) 555-0142", "+16175550142"), ("617.555.0142", "+16175550142"), ("+44 20 7946 0958", "+442079460958")],
)
def test_phone_numbers_stored_e164(staff_client, raw, stored):
    c = make_client()
    data = {"cell_phone": raw, "phone": "", "email": "a@example.org", "fax": "", "preferred_language": "en"}
    staff_client.post(reverse("clients:contact-info", args=[c.pk]), data, HTTP_HX_REQUEST="true")
    assert str(Client.objects.get(pk=c.pk).cell_phone) == stored


@pytest.mark.parametrize("raw", ["12345", "555-CALL-NOW", "+1 (000) 000-0000"])
def test_invalid_phone_is_a_field_error(staff_client, raw):
    c = make_client()
    before = str(c.cell_phone)
    data = {"cell_phone": raw, "email": "a@example.org", "preferred_language": "en"}
    response = staff_client.post(reverse("clients:contact-info", args=[c.pk]), data, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="field-cell_phone"' in body
    assert "Enter a valid phone number" in body
    assert str(Client.objects.get(pk=c.pk).cell_phone) == before


def test_invalid_email_is_a_field_error(staff_client):
    c = make_client()
    data = {"cell_phone": str(c.cell_phone), "email": "not-an-email", "preferred_language": "en"}
    body = staff_client.post(
        reverse("clients:contact-info", args=[c.pk]), data, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Enter a valid email address" in body


def test_messaging_contact_button_saves_alternate(staff_client):
    c = make_client(use_detail=False)
    form = staff_client.get(reverse("clients:messaging-contact", args=[c.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "Save Messaging Contact" in form
    staff_client.post(
        reverse("clients:messaging-contact", args=[c.pk]),
        {"name": "Pat Test", "relationship": "Parent", "cell_phone": "617-555-0199", "email": "pat@example.org"},
        HTTP_HX_REQUEST="true",
    )
    c.refresh_from_db()
    assert str(c.messaging_contact.cell_phone) == "+16175550199"
    from messaging.addresses import contact_address_for

    assert contact_address_for(c, "sms").address == "+16175550199"
    assert contact_address_for(c, "sms").source == "alternate"


def test_client_list_paginates_and_searches(staff_client):
    for i in range(30):
        make_client(first_name=f"Zed{i:02d}", last_name="Paged")
    page1 = staff_client.get(reverse("clients:list")).content.decode()
    assert "Page 1 of 2" in page1
    found = staff_client.get(reverse("clients:list"), {"q": "Zed07"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Zed07" in found and "Zed08" not in found and "<html" not in found


def test_a_search_with_a_nul_character_still_searches(staff_client):
    """PostgreSQL refuses a NUL in a query's text (the search was a 500 there): it is dropped."""
    make_client(first_name="Zed07", last_name="Paged")
    found = staff_client.get(reverse("clients:list"), {"q": "Zed\x0007"}, HTTP_HX_REQUEST="true")
    assert found.status_code == 200 and "Zed07" in found.content.decode()
