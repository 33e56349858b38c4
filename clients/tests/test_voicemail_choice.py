""" "OK to leave voicemail" on the chart: Clinic default (new profiles), Yes or No; every change audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import ProfileChange, VoicemailChoice
from clients.tests.factories import make_client

pytestmark = pytest.mark.django_db


def post(http, client, voicemail):
    data = {
        "consent_given": "True",
        "preferred_contact_method": "text",
        "use_client_detail_info": "True",
        "voicemail_ok": voicemail,
    }
    return http.post(reverse("clients:messaging-profile", args=[client.pk]), data, HTTP_HX_REQUEST="true")


def test_the_chart_offers_clinic_default_yes_and_no(client, staff_user):
    client.force_login(staff_user)
    c = make_client()
    html = client.get(reverse("clients:chart", args=[c.pk])).content.decode()
    assert "OK to leave voicemail" in html
    for value, label in VoicemailChoice.choices:
        assert f'name="voicemail_ok" value="{value}"' in html and f" {label}</label>" in html
    assert 'value="default" required id="id_voicemail_ok_0" checked>' in html  # a new profile's answer


def test_each_choice_is_saved_and_audited(client, staff_user):
    client.force_login(staff_user)
    c = make_client()
    assert post(client, c, "no").status_code == 200
    c.messaging.refresh_from_db()
    assert c.messaging.voicemail_ok == VoicemailChoice.NO
    change = ProfileChange.objects.get(client=c, field="voicemail_ok")
    assert (change.old_value, change.new_value, change.changed_by) == ("Clinic default", "No", staff_user)
    post(client, c, "default")
    c.messaging.refresh_from_db()
    assert c.messaging.voicemail_ok == VoicemailChoice.CLINIC_DEFAULT
    assert ProfileChange.objects.filter(client=c, field="voicemail_ok").latest("id").new_value == "Clinic default"


def test_an_unknown_answer_is_a_field_error(client, staff_user):
    client.force_login(staff_user)
    c = make_client()
    body = post(client, c, "True").content.decode()
    assert "Select a valid choice" in body
    c.messaging.refresh_from_db()
    assert c.messaging.voicemail_ok == VoicemailChoice.CLINIC_DEFAULT
