"""Where PHI is sent is audited like consent (issue 13, row 8): every change of a client's phone, cell,
e-mail, fax or address — on the chart, the Messaging Contact or in the admin — writes a ProfileChange
(who, when, old -> new)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import Client, MessagingContact, ProfileChange
from clients.tests.factories import make_client

pytestmark = pytest.mark.django_db


def changes(client: Client) -> dict[str, tuple[str, str, Any, str]]:
    return {
        c.field: (c.old_value, c.new_value, c.changed_by, c.source)
        for c in ProfileChange.objects.filter(client=client).select_related("changed_by")
    }


def contact_post(patient: Client, **overrides: str) -> dict[str, str]:
    data = {
        "phone": str(patient.phone),
        "cell_phone": str(patient.cell_phone),
        "email": patient.email,
        "fax": str(patient.fax),
        "address_line1": patient.address_line1,
        "address_line2": patient.address_line2,
        "city": patient.city,
        "state": patient.state,
        "postal_code": patient.postal_code,
        "time_zone": patient.time_zone,
        "preferred_language": patient.preferred_language,
    }
    data.update(overrides)
    return data


def test_chart_contact_changes_are_audited_field_by_field(client: Any, staff_user: Any) -> None:
    patient = make_client(cell_phone="+16175550100", email="old@example.org", address_line1="1 Old Road")
    client.force_login(staff_user)
    response = client.post(
        reverse("clients:contact-info", args=[patient.pk]),
        contact_post(patient, cell_phone="617-555-0199", email="new@example.org", address_line1="2 New Street"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert changes(patient) == {
        "cell_phone": ("+16175550100", "+16175550199", staff_user, "staff"),
        "email": ("old@example.org", "new@example.org", staff_user, "staff"),
        "address_line1": ("1 Old Road", "2 New Street", staff_user, "staff"),
    }
    assert Client.objects.get(pk=patient.pk).email == "new@example.org"


def test_saving_the_chart_unchanged_audits_nothing(client: Any, staff_user: Any) -> None:
    patient = make_client()
    client.force_login(staff_user)
    client.post(reverse("clients:contact-info", args=[patient.pk]), contact_post(patient), HTTP_HX_REQUEST="true")
    assert changes(patient) == {}


def test_messaging_contact_changes_are_audited_with_old_and_new(client: Any, staff_user: Any) -> None:
    patient = make_client(use_detail=False, alternate={"name": "Pat", "email": "pat@example.org"})
    client.force_login(staff_user)
    client.post(
        reverse("clients:messaging-contact", args=[patient.pk]),
        {"name": "Pat", "relationship": "", "cell_phone": "617-555-0142", "email": "pat@example.net"},
        HTTP_HX_REQUEST="true",
    )
    assert changes(patient) == {
        "messaging_contact.cell_phone": ("", "+16175550142", staff_user, "staff"),
        "messaging_contact.email": ("pat@example.org", "pat@example.net", staff_user, "staff"),
    }
    assert str(MessagingContact.objects.get(client=patient).cell_phone) == "+16175550142"


def admin_form_data(response: Any) -> dict[str, Any]:
    """The admin change form's current values (main form and inlines) as the browser would post them."""
    data: dict[str, Any] = {}

    def add(form: Any) -> None:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            data[bound.html_name] = "on" if value is True else value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        for bound in inline.formset.management_form:
            data[bound.html_name] = bound.value()
        for form in inline.formset.forms:
            add(form)
    return data


def test_admin_edits_of_contact_fields_and_consent_are_audited(admin_client: Any, admin_user: Any) -> None:
    patient = make_client(first_name="Ada", last_name="Admin", email="ada@example.org", consent=False)
    url = reverse("admin:clients_client_change", args=[patient.pk])
    data = admin_form_data(admin_client.get(url))
    data.update({"email": "ada@example.net", "postal_code": "02139", "messaging-0-consent_given": "on"})
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert changes(patient) == {
        "email": ("ada@example.org", "ada@example.net", admin_user, "admin"),
        "postal_code": ("", "02139", admin_user, "admin"),
        "consent_given": ("No", "Yes", admin_user, "admin"),
    }
