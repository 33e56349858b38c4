"""The bounce policy and the Do-Not-Send list (bounces.services)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import override_settings

from bounces import services
from bounces.models import DnsReason, DoNotSendEntry, SoftBounce, SoftFailurePolicy
from bounces.selectors import blocked_addresses, paused_addresses
from bounces.taxonomy import Classification
from bounces.tests.deliveries import make_delivery
from core import clock

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
HARD = Classification(category="Bad-Mailbox", hard=True, reason="550 5.1.1 user unknown")
SOFT = Classification(category="Quota-Issues", hard=False, reason="452 4.2.2 mailbox full")


# --- dns_add / dns_remove / address_suppression ----------------------------------------------------


def test_dns_add_normalises_and_is_idempotent() -> None:
    first = services.dns_add(channel="email", address=" Pat.Doe@Example.ORG ", reason=DnsReason.STAFF)
    again = services.dns_add(channel="email", address="pat.doe@example.org", reason=DnsReason.UNSUBSCRIBE)
    assert first.pk == again.pk
    assert first.address == "pat.doe@example.org"
    assert first.category == "DNS"
    assert DoNotSendEntry.objects.count() == 1


def test_dns_add_phone_is_stored_as_e164() -> None:
    entry = services.dns_add(channel="sms", address="(617) 555-0142", reason=DnsReason.STAFF)
    assert entry.address == "+16175550142"
    assert services.address_suppression("sms", "+16175550142") == entry
    assert services.address_suppression("voice", "+16175550142") is None  # per channel


@pytest.mark.parametrize(
    ("channel", "address", "is_domain"),
    [("email", "not-an-address", False), ("sms", "12", False), ("sms", "example.org", True), ("email", "@x", True)],
)
def test_dns_add_rejects_invalid_addresses(channel: str, address: str, is_domain: bool) -> None:
    with pytest.raises(ValidationError):
        services.dns_add(channel=channel, address=address, is_domain=is_domain, reason=DnsReason.STAFF)
    assert not DoNotSendEntry.objects.exists()


def test_domain_entry_blocks_every_address_with_category_domain_dns() -> None:
    entry = services.dns_add(channel="email", address="@Blocked.example", is_domain=True, reason=DnsReason.STAFF)
    assert entry.address == "blocked.example"
    assert entry.category == "Domain DNS"
    found = services.address_suppression("email", "Anyone@BLOCKED.example")
    assert found == entry
    assert found.suppression_category == "Domain DNS"
    assert services.address_suppression("email", "anyone@other.example") is None


def test_address_entry_wins_over_domain_entry() -> None:
    services.dns_add(channel="email", address="blocked.example", is_domain=True, reason=DnsReason.STAFF)
    own = services.dns_add(channel="email", address="pat@blocked.example", reason=DnsReason.UNSUBSCRIBE)
    found = services.address_suppression("email", "pat@blocked.example")
    assert found == own
    assert found.suppression_category == "DNS"


def test_dns_remove_needs_a_reason_and_keeps_the_row() -> None:
    staff = get_user_model().objects.create_user("remover")
    entry = services.dns_add(channel="email", address="pat@example.org", reason=DnsReason.STAFF)
    with pytest.raises(ValidationError):
        services.dns_remove(entry=entry, user=staff, reason="   ")
    assert services.address_suppression("email", "pat@example.org") == entry

    services.dns_remove(entry=entry, user=staff, reason="Client confirmed the address by phone")
    entry.refresh_from_db()
    assert not entry.active
    assert entry.removed_by == staff
    assert entry.removal_reason == "Client confirmed the address by phone"
    assert entry.removed_at is not None
    assert services.address_suppression("email", "pat@example.org") is None
    # Removing twice changes nothing; adding again makes a new active entry next to the old one.
    services.dns_remove(entry=entry, user=None, reason="again")
    entry.refresh_from_db()
    assert entry.removal_reason == "Client confirmed the address by phone"
    new = services.dns_add(channel="email", address="pat@example.org", reason=DnsReason.UNSUBSCRIBE)
    assert new.pk != entry.pk
    assert DoNotSendEntry.objects.filter(address="pat@example.org").count() == 2


# --- hard bounces ------------------------------------------------------------------------------------


def test_hard_bounce_puts_the_address_on_the_list_once() -> None:
    delivery = make_delivery(address="Gone@Example.org")
    services.bounce_record(delivery=delivery, classification=HARD)
    services.bounce_record(delivery=delivery, classification=HARD)
    entry = DoNotSendEntry.objects.get()
    assert (entry.channel, entry.address, entry.reason) == ("email", "gone@example.org", DnsReason.HARD_BOUNCE)
    assert entry.category == "Bad-Mailbox"
    assert entry.source_delivery == delivery
    assert entry.expires_at is None
    assert services.address_suppression("email", "gone@example.org") == entry


def test_provider_suppression_and_sms_stop_reasons() -> None:
    email = make_delivery(address="listed@example.org")
    services.bounce_record(
        delivery=email, classification=Classification(category="DNS", hard=True, reason="provider suppression")
    )
    sms = make_delivery(channel="sms", address="+16175550188")
    services.bounce_record(
        delivery=sms, classification=Classification(category="DNS", hard=True, reason="twilio 21610: STOP")
    )
    assert DoNotSendEntry.objects.get(channel="email").reason == DnsReason.PROVIDER
    assert DoNotSendEntry.objects.get(channel="sms").reason == DnsReason.SMS_STOP


def test_failures_on_our_side_do_not_touch_the_recipient() -> None:
    delivery = make_delivery()
    ours = Classification(category="Bad-Configuration", hard=False, reason="unverified sender", ours=True)
    services.bounce_record(delivery=delivery, classification=ours)
    assert not SoftBounce.objects.exists()
    assert not DoNotSendEntry.objects.exists()


# --- soft failures and the pause --------------------------------------------------------------------
# bounce_record is called once per message that *ended* failed (messaging.outcomes); the pause is
# listed on the Do-Not-Send screen but blocks nothing: address_suppression ignores it.


def test_failed_messages_pause_the_address_for_a_while_after_the_limit() -> None:
    with clock.freeze(T0) as frozen:
        for _ in range(2):
            services.bounce_record(delivery=make_delivery(address="full@example.org"), classification=SOFT)
            frozen.advance(days=1)
        assert SoftBounce.objects.count() == 2
        assert services.address_pause("email", "full@example.org") is None

        third = make_delivery(address="full@example.org")
        services.bounce_record(delivery=third, classification=SOFT)
        entry = services.address_pause("email", "full@example.org")
        assert entry is not None and entry.is_pause
        assert entry.reason == DnsReason.SOFT_BOUNCES
        assert entry.get_reason_display() == "Paused after repeated soft failures"
        assert entry.category == entry.suppression_category == "Quota-Issues"  # never DNS
        assert entry.source_delivery == third
        assert entry.expires_at == frozen.now() + dt.timedelta(days=3)
        assert services.address_suppression("email", "full@example.org") is None  # a pause is not a block
        assert blocked_addresses("email", ["full@example.org"]) == {}
        assert paused_addresses("email", ["Full@Example.org"]) == {"full@example.org": entry}

        frozen.advance(days=3, seconds=1)
        assert services.address_pause("email", "full@example.org") is None
        assert paused_addresses("email", ["full@example.org"]) == {}


def test_one_message_is_one_failure_however_often_it_is_recorded() -> None:
    delivery = make_delivery(address="once@example.org")
    for _ in range(5):
        services.bounce_record(delivery=delivery, classification=SOFT)
    assert SoftBounce.objects.count() == 1
    assert services.address_pause("email", "once@example.org") is None


def test_failures_outside_the_window_do_not_count() -> None:
    with clock.freeze(T0) as frozen:
        for _ in range(3):
            services.bounce_record(delivery=make_delivery(address="slow@example.org"), classification=SOFT)
            frozen.advance(days=4)  # 0, 4, 8 days: never three within seven days
    assert SoftBounce.objects.count() == 3
    assert not DoNotSendEntry.objects.exists()


def test_a_delivered_message_clears_the_failures_and_lifts_the_pause() -> None:
    with clock.freeze(T0):
        for _ in range(2):
            services.bounce_record(delivery=make_delivery(address="back@example.org"), classification=SOFT)
        assert services.bounce_success(channel="email", address="Back@example.org") == 2
        services.bounce_record(delivery=make_delivery(address="back@example.org"), classification=SOFT)
        assert not DoNotSendEntry.objects.exists()
        assert SoftBounce.objects.filter(cleared_at__isnull=True).count() == 1

        for _ in range(2):
            services.bounce_record(delivery=make_delivery(address="back@example.org"), classification=SOFT)
        pause = services.address_pause("email", "back@example.org")
        assert pause is not None
        services.bounce_success(channel="email", address="back@example.org")
        pause.refresh_from_db()
        assert not pause.active and "delivered" in pause.removal_reason


def test_a_pause_that_ran_out_is_not_rewritten_by_a_later_delivery() -> None:
    """An expired pause stopped applying by itself: its record keeps saying so (no removal, no
    "delivered" reason dated after it ended)."""
    with clock.freeze(T0) as frozen:
        for _ in range(3):
            services.bounce_record(delivery=make_delivery(address="later@example.org"), classification=SOFT)
        pause = services.address_pause("email", "later@example.org")
        assert pause is not None and pause.expires_at is not None
        frozen.advance(days=60)
        services.bounce_success(channel="email", address="later@example.org")
    pause.refresh_from_db()
    assert (pause.removed_at, pause.removal_reason) == (None, "")


@override_settings(SOFT_BOUNCE_LIMIT=2, SOFT_BOUNCE_WINDOW_DAYS=1, SOFT_BOUNCE_SUPPRESS_DAYS=10)
def test_without_an_admin_row_the_environment_decides() -> None:
    with clock.freeze(T0) as frozen:
        for _ in range(2):
            services.bounce_record(delivery=make_delivery(address="cfg@example.org"), classification=SOFT)
        entry = services.address_pause("email", "cfg@example.org")
        assert entry is not None
        assert entry.expires_at == frozen.now() + dt.timedelta(days=10)


@override_settings(SOFT_BOUNCE_LIMIT=2)
def test_the_admin_row_overrides_the_environment() -> None:
    SoftFailurePolicy.objects.create(failed_messages=4, window_days=30, pause_days=5)
    with clock.freeze(T0) as frozen:
        for n in range(4):
            frozen.advance(days=6 if n else 0)  # four in 18 days: inside 30, outside the environment's 7
            assert services.address_pause("email", "row@example.org") is None, n
            services.bounce_record(delivery=make_delivery(address="row@example.org"), classification=SOFT)
        entry = services.address_pause("email", "row@example.org")
        assert entry is not None and entry.expires_at == frozen.now() + dt.timedelta(days=5)
        assert "4 messages ended failed (soft) within 30 days" in entry.note


def test_pausing_can_be_turned_off() -> None:
    SoftFailurePolicy.objects.create(failed_messages=0)
    for _ in range(5):
        services.bounce_record(delivery=make_delivery(address="off@example.org"), classification=SOFT)
    assert SoftBounce.objects.count() == 5
    assert not DoNotSendEntry.objects.exists()


def test_expired_pause_is_retired_and_a_hard_bounce_replaces_a_pause() -> None:
    with clock.freeze(T0) as frozen:
        for _ in range(3):
            services.bounce_record(delivery=make_delivery(address="mix@example.org"), classification=SOFT)
        temporary = services.address_pause("email", "mix@example.org")
        assert temporary is not None and temporary.expires_at is not None

        frozen.advance(days=1)
        services.bounce_record(delivery=make_delivery(address="mix@example.org"), classification=HARD)
        permanent = services.address_suppression("email", "mix@example.org")
        assert permanent.pk != temporary.pk
        assert permanent.expires_at is None and permanent.reason == DnsReason.HARD_BOUNCE
        temporary.refresh_from_db()
        assert not temporary.active and temporary.removal_reason.startswith("Replaced")

        # A later pause never shortens a permanent entry.
        for _ in range(3):
            services.bounce_record(delivery=make_delivery(address="mix@example.org"), classification=SOFT)
        assert services.address_suppression("email", "mix@example.org") == permanent
        assert services.address_pause("email", "mix@example.org") is None


def test_a_new_pause_after_an_expired_one() -> None:
    with clock.freeze(T0) as frozen:
        for _ in range(3):
            services.bounce_record(delivery=make_delivery(address="again@example.org"), classification=SOFT)
        frozen.advance(days=10)
        for _ in range(3):
            services.bounce_record(delivery=make_delivery(address="again@example.org"), classification=SOFT)
        current = services.address_pause("email", "again@example.org")
    assert current is not None
    assert DoNotSendEntry.objects.filter(address="again@example.org").count() == 2
    assert DoNotSendEntry.objects.filter(address="again@example.org", active=True).count() == 1


# --- SMS STOP / START ------------------------------------------------------------------------------


def test_sms_stop_and_start_update_the_list() -> None:
    entry = services.sms_opt_out(phone="617-555-0177", evidence="SM123 STOP")
    assert (entry.channel, entry.address, entry.reason) == ("sms", "+16175550177", DnsReason.SMS_STOP)

    assert services.sms_opt_in(phone="+16175550177", evidence="SM124 START") == 1
    entry.refresh_from_db()
    assert not entry.active and "START" in entry.removal_reason
    assert services.address_suppression("sms", "+16175550177") is None


def test_sms_start_does_not_lift_other_entries() -> None:
    services.dns_add(channel="sms", address="+16175550199", reason=DnsReason.HARD_BOUNCE)
    assert services.sms_opt_in(phone="+16175550199", evidence="START") == 0
    assert services.address_suppression("sms", "+16175550199") is not None
