"""Voicemail as the seed describes it: by default a call a machine answers leaves the message.

"OK to leave voicemail" is the client's own Yes / No, or "Clinic default" (new profiles), which
follows setting 267 (Yes unless changed) for clients who gave messaging consent. A machine that
answers where no voicemail may be left ends the delivery as "Not left: voicemail not allowed for
this client": a final status, not a bounce.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest

from bounces.selectors import blocked_addresses
from clients.models import MessagingProfile, VoicemailChoice
from clients.tests.factories import make_appointment, make_client
from messaging.channels.voice.webhooks import VOICEMAIL_NOT_ALLOWED, voicemail_ok
from messaging.models import Attempt, Delivery, ProviderEvent, Status
from messaging.services_settings import setting_update
from messaging.tests.dispatch_support import _public_base_url, daytime, make_delivery, refreshed, twilio_post

__all__ = ["_public_base_url", "daytime"]

MACHINE = "machine_end_beep"


def call_in_progress(*, consent: bool = True, choice: str | None = None, **fields: Any) -> Delivery:
    """A voice reminder whose call Twilio has placed (status sent), to a client with that profile."""
    client = make_client(consent=consent)
    if choice is not None:
        MessagingProfile.objects.filter(client=client).update(voicemail_ok=choice)
    delivery = make_delivery(
        channel="voice",
        client=client,
        code="client-upcoming-appointment",
        appointment=make_appointment(client),
        status=Status.SENT,
        provider_message_id="CA" + "0" * 31 + str(client.pk % 10),
        attempt_count=1,
        **fields,
    )
    Attempt.objects.create(delivery=delivery, number=1, kind="first", provider_message_id=delivery.provider_message_id)
    return Delivery.objects.get(pk=delivery.pk)  # as a webhook reads it


def answered(http: Any, delivery: Delivery, answered_by: str = MACHINE, status: str = "completed") -> Delivery:
    params = {
        "AccountSid": "AC00000000000000000000000000000000",
        "CallSid": delivery.provider_message_id,
        "CallStatus": status,
        "To": delivery.address,
        "AnsweredBy": answered_by,
    }
    response = twilio_post(http, f"/webhooks/twilio/voice/{delivery.token}/status", params)
    assert response.status_code == 200
    return refreshed(delivery)


def twiml_for(http: Any, delivery: Delivery, answered_by: str = MACHINE) -> ElementTree.Element:
    params = {"CallSid": delivery.provider_message_id, "CallStatus": "in-progress", "AnsweredBy": answered_by}
    response = twilio_post(http, f"/webhooks/twilio/voice/{delivery.token}/twiml", params)
    return ElementTree.fromstring(response.content.decode())  # noqa: S314 - our own output


@pytest.mark.django_db
def test_a_new_profile_follows_the_clinic_default_which_is_yes():
    client = make_client()
    assert client.messaging.voicemail_ok == VoicemailChoice.CLINIC_DEFAULT
    assert MessagingProfile._meta.get_field("voicemail_ok").default == VoicemailChoice.CLINIC_DEFAULT


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("clinic", "choice", "consent", "allowed"),
    [
        ("yes", VoicemailChoice.CLINIC_DEFAULT, True, True),
        ("no", VoicemailChoice.CLINIC_DEFAULT, True, False),
        ("no", VoicemailChoice.YES, True, True),  # the client's own choice overrides the clinic's
        ("yes", VoicemailChoice.NO, True, False),
        ("yes", VoicemailChoice.CLINIC_DEFAULT, False, False),  # only for consented clients
        ("yes", VoicemailChoice.YES, False, False),
    ],
)
def test_the_clients_choice_overrides_the_clinic_default(daytime, clinic, choice, consent, allowed):
    setting_update(number=267, value=clinic, user=None)
    assert voicemail_ok(call_in_progress(consent=consent, choice=choice)) is allowed


@pytest.mark.django_db
def test_staff_reminders_may_always_go_to_voicemail(daytime, django_user_model):
    setting_update(number=267, value="no", user=None)
    user = django_user_model.objects.create_user("nurse")
    assert voicemail_ok(Delivery(channel="voice", user=user, recipient_type="staff")) is True


@pytest.mark.django_db
def test_by_default_a_machine_hears_the_message_and_it_counts_as_delivered(client, daytime):
    delivery = call_in_progress()
    root = twiml_for(client, delivery)
    assert [child.tag for child in root] == ["Say", "Hangup"]  # no "press 1" for a machine
    assert answered(client, delivery).status == Status.DELIVERED


@pytest.mark.django_db
@pytest.mark.parametrize(("clinic", "choice"), [("yes", VoicemailChoice.NO), ("no", VoicemailChoice.CLINIC_DEFAULT)])
def test_no_voicemail_allowed_ends_as_not_left_and_is_no_bounce(client, daytime, clinic, choice):
    setting_update(number=267, value=clinic, user=None)
    delivery = call_in_progress(choice=choice)
    assert [child.tag for child in twiml_for(client, delivery)] == ["Hangup"]  # nothing played to the machine
    delivery = answered(client, delivery)
    assert delivery.status == Status.SUPPRESSED
    assert delivery.status_reason == VOICEMAIL_NOT_ALLOWED == "Not left: voicemail not allowed for this client"
    assert (delivery.bounce_category, delivery.hard_bounce) == ("", None)
    assert delivery.next_attempt_at is None and delivery.finished_at is not None
    assert (delivery.redial_count, delivery.resend_count) == (0, 0)  # no redial, no resend
    assert blocked_addresses("voice", [delivery.address]) == {}  # nothing on the Do-Not-Send list
    assert Attempt.objects.get(delivery=delivery).outcome == Status.SUPPRESSED
    event = ProviderEvent.objects.get(delivery=delivery, event_type="call-completed")
    assert event.applied and event.status == Status.SUPPRESSED


@pytest.mark.django_db
def test_a_person_who_answers_is_unaffected(client, daytime):
    setting_update(number=267, value="no", user=None)
    delivery = call_in_progress(choice=VoicemailChoice.NO)
    assert twiml_for(client, delivery, "human").find("Gather") is not None
    assert answered(client, delivery, "human").status == Status.DELIVERED


@pytest.mark.django_db
def test_a_category_left_by_an_earlier_busy_attempt_is_cleared(client, daytime):
    delivery = call_in_progress(choice=VoicemailChoice.NO, bounce_category="No-Answer-From-Host", hard_bounce=False)
    delivery = answered(client, delivery)
    assert (delivery.status, delivery.bounce_category, delivery.hard_bounce) == (Status.SUPPRESSED, "", None)


@pytest.mark.django_db
def test_a_repeated_callback_changes_nothing(client, daytime):
    delivery = call_in_progress(choice=VoicemailChoice.NO)
    answered(client, delivery)
    again = answered(client, delivery)
    assert (again.status, again.status_reason) == (Status.SUPPRESSED, VOICEMAIL_NOT_ALLOWED)
    assert ProviderEvent.objects.filter(delivery=delivery).count() == 1


def test_default_voicemail_scripts_are_minimum_necessary():
    """What a machine records says who called and when, never the clinician, specialty or diagnosis."""
    from messaging.bootstrap import MESSAGE_TYPES

    scripts = [t["templates"]["voice"]["voice_script"] for t in MESSAGE_TYPES if "voice" in t["templates"]]
    assert scripts
    for script in scripts:
        lowered = script.lower()
        for word in ("clinician", "therap", "psychiat", "counsel", "diagnos", "specialt", "provider_name"):
            assert word not in lowered, script
