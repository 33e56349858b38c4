"""Which address each channel uses: every combination of consent, preference and Use Client Detail Info."""

from __future__ import annotations

import itertools

import pytest

from clients.models import ContactMethod
from clients.tests.factories import make_client
from messaging.addresses import contact_address_for, preference_allows
from messaging.exclusions import Why as Reason

SMS, VOICE, EMAIL, FAX = "sms", "voice", "email", "fax"

pytestmark = pytest.mark.django_db

ALT = {"cell_phone": "+16175559001", "phone": "+16175559002", "email": "alt@example.org", "fax": "+16175559003"}
CHANNELS = [SMS, VOICE, EMAIL, FAX]


@pytest.mark.parametrize(
    ("consent", "preferred", "use_detail", "channel"),
    list(itertools.product([True, False], list(ContactMethod), [True, False], CHANNELS)),
)
def test_address_for_every_combination(consent, preferred, use_detail, channel):
    client = make_client(consent=consent, preferred=preferred, use_detail=use_detail, alternate=ALT)
    choice = contact_address_for(client, channel)
    if not consent:
        assert not choice.ok
        assert choice.reason == Reason.NO_CONSENT
        return
    source = client if use_detail else client.messaging_contact
    expected = {
        SMS: str(source.cell_phone),
        EMAIL: source.email,
        FAX: str(source.fax),
        VOICE: str(source.phone) if preferred == ContactMethod.PHONE else str(source.cell_phone),
    }[channel]
    assert choice.ok
    assert choice.address == expected
    assert choice.source == ("chart" if use_detail else "alternate")


def test_alternate_missing_gives_reason():
    client = make_client(use_detail=False)
    choice = contact_address_for(client, SMS)
    assert not choice.ok
    assert choice.reason == Reason.NO_ALTERNATE


def test_missing_address_names_channel():
    client = make_client(cell_phone="")
    choice = contact_address_for(client, SMS)
    assert not choice.ok
    assert choice.reason == "No valid cell phone number for Text (SMS)"


def test_voice_falls_back_to_other_number():
    client = make_client(preferred=ContactMethod.PHONE, phone="")
    assert contact_address_for(client, VOICE).address == str(client.cell_phone)
    client2 = make_client(preferred=ContactMethod.CELL, cell_phone="")
    assert contact_address_for(client2, VOICE).address == str(client2.phone)


def test_no_profile_means_no_consent():
    client = make_client(profile=False)
    assert contact_address_for(client, EMAIL).reason == Reason.NO_PROFILE


def test_sms_stop_blocks_texts_only():
    client = make_client()
    client.messaging.sms_opted_out = True
    client.messaging.save()
    assert contact_address_for(client, SMS).reason == Reason.SMS_STOPPED
    assert contact_address_for(client, EMAIL).ok


@pytest.mark.parametrize(
    ("preferred", "allowed"),
    [
        (ContactMethod.TEXT, {SMS}),
        (ContactMethod.EMAIL, {EMAIL}),
        (ContactMethod.CELL, {VOICE}),
        (ContactMethod.PHONE, {VOICE}),
        (ContactMethod.FAX, {FAX}),
        (ContactMethod.MAIL, set()),
    ],
)
def test_preference_channels(preferred, allowed):
    client = make_client(preferred=preferred)
    assert {ch for ch in CHANNELS if preference_allows(client.messaging, ch)} == allowed
