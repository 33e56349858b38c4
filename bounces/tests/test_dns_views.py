"""Utilities > Do-Not-Send List and Failure Summary screens."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from bounces.models import DnsReason, DoNotSendEntry
from bounces.services import dns_add
from bounces.tests.deliveries import make_delivery

pytestmark = pytest.mark.django_db

LIST = reverse("bounces:dns-list")
ADD = reverse("bounces:dns-add")


def user_with(django_user_model: Any, *codenames: str, username: str = "u") -> Any:
    user = django_user_model.objects.create_user(username, password="pw-123456")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def viewer(client: Any, django_user_model: Any) -> Any:
    client.force_login(user_with(django_user_model, "view_donotsendentry", username="viewer"))
    return client


@pytest.fixture
def editor(client: Any, staff_user: Any) -> Any:
    client.force_login(staff_user)
    return client


# --- permissions ----------------------------------------------------------------------------------


def test_login_required(client: Any) -> None:
    response = client.get(LIST)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_screens_need_their_permissions(client: Any, django_user_model: Any) -> None:
    client.force_login(user_with(django_user_model, username="nobody"))
    entry = dns_add(channel="email", address="x@example.org", reason=DnsReason.STAFF)
    assert client.get(LIST).status_code == 403
    assert client.get(reverse("messaging:summary")).status_code == 403
    assert client.post(ADD, {"add-channel": "email", "add-address": "y@example.org"}).status_code == 403
    assert client.post(reverse("bounces:dns-remove", args=[entry.pk]), {}).status_code == 403
    assert DoNotSendEntry.objects.count() == 1


def test_a_viewer_sees_the_list_but_cannot_add_or_remove(viewer: Any) -> None:
    entry = dns_add(channel="email", address="seen@example.org", reason=DnsReason.UNSUBSCRIBE)
    page = viewer.get(LIST).content.decode()
    assert "seen@example.org" in page and "Unsubscribed" in page
    assert 'id="dns-add"' not in page and "Remove…" not in page
    assert viewer.post(ADD, {"add-channel": "email", "add-address": "new@example.org"}).status_code == 403
    remove = reverse("bounces:dns-remove", args=[entry.pk])
    assert viewer.post(remove, {f"remove-{entry.pk}-reason": "x"}).status_code == 403
    entry.refresh_from_db()
    assert entry.active


# --- list: search and filters ------------------------------------------------------------------------


def test_search_and_filters(viewer: Any) -> None:
    delivery = make_delivery(address="bounced@example.org")
    dns_add(
        channel="email",
        address="bounced@example.org",
        reason=DnsReason.HARD_BOUNCE,
        source_delivery=delivery,
        category="Bad-Mailbox",
    )
    dns_add(channel="sms", address="+16175550123", reason=DnsReason.SMS_STOP)
    dns_add(channel="email", address="blocked.example", is_domain=True, reason=DnsReason.STAFF)

    page = viewer.get(LIST).content.decode()
    assert "bounced@example.org" in page and "(617) 555-0123" in page and "@blocked.example" in page
    assert f"Delivery #{delivery.pk}" in page

    page = viewer.get(LIST, {"q": "bounced"}).content.decode()
    assert "bounced@example.org" in page and "(617) 555-0123" not in page

    for typed in ("(617) 555-0123", "617-555-0123", "555-0123", "+1 617 555 0123", "5550123"):  # as shown, or a part
        page = viewer.get(LIST, {"q": typed}).content.decode()
        assert "(617) 555-0123" in page and "bounced@example.org" not in page, typed
    page = viewer.get(LIST, {"q": "(212) 555-0123"}).content.decode()
    assert "(617) 555-0123" not in page

    page = viewer.get(LIST, {"channel": "sms"}).content.decode()
    assert "(617) 555-0123" in page and "bounced@example.org" not in page

    page = viewer.get(LIST, {"reason": "staff"}).content.decode()
    assert "@blocked.example" in page and "bounced@example.org" not in page


def test_htmx_search_renders_only_the_results(viewer: Any) -> None:
    dns_add(channel="email", address="partial@example.org", reason=DnsReason.STAFF)
    response = viewer.get(LIST, {"q": "partial"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">')
    assert "partial@example.org" in html and "<html" not in html


def test_expired_and_removed_entries_show_only_on_request(viewer: Any) -> None:
    old = dns_add(channel="email", address="gone@example.org", reason=DnsReason.STAFF)
    old.active = False
    old.removal_reason = "Confirmed new address"
    old.save()
    dns_add(
        channel="email",
        address="later@example.org",
        reason=DnsReason.SOFT_BOUNCES,
        expires_at=timezone.now() - dt.timedelta(hours=1),
    )
    page = viewer.get(LIST).content.decode()
    assert "gone@example.org" not in page and "later@example.org" not in page
    page = viewer.get(LIST, {"show_removed": "on"}).content.decode()
    assert "gone@example.org" in page and "Confirmed new address" in page
    assert "later@example.org" in page and "Expired" in page


# --- add ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "typed", "stored", "is_domain"),
    [
        ("email", "New.Person@Example.org", "new.person@example.org", False),
        ("sms", "(617) 555-0134", "+16175550134", False),
        ("fax", "+1 617 555 0199", "+16175550199", False),
        ("email", "@spam.example", "spam.example", True),
    ],
)
def test_staff_add_normalises_the_address(
    editor: Any, staff_user: Any, channel: str, typed: str, stored: str, is_domain: bool
) -> None:
    response = editor.post(ADD, {"add-channel": channel, "add-address": typed, "add-note": "asked by phone"})
    assert response.status_code == 302
    entry = DoNotSendEntry.objects.get()
    assert (entry.channel, entry.address, entry.is_domain) == (channel, stored, is_domain)
    assert entry.reason == DnsReason.STAFF
    assert entry.created_by == staff_user
    assert entry.note == "asked by phone"
    assert entry.category == ("Domain DNS" if is_domain else "DNS")


@pytest.mark.parametrize(
    ("channel", "typed", "message"),
    [
        ("email", "not an address", "Enter a valid e-mail address"),
        ("sms", "555-12", "Enter a valid phone number"),
        ("sms", "+15555550123", "Enter a valid phone number"),  # 555 is no area code
        ("email", "", "This field is required"),
    ],
)
def test_invalid_address_is_shown_next_to_the_field(editor: Any, channel: str, typed: str, message: str) -> None:
    response = editor.post(
        ADD, {"add-channel": channel, "add-address": typed, "add-note": "kept"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    field = html[html.index('id="field-add-address"') :]
    field = field[: field.index("</div>\n")]
    assert "field-error" in field and message in field
    assert 'value="kept"' in html  # nothing typed is lost
    assert not DoNotSendEntry.objects.exists()


def test_invalid_add_without_htmx_answers_422(editor: Any) -> None:
    response = editor.post(ADD, {"add-channel": "email", "add-address": "nope"})
    assert response.status_code == 422
    assert "Enter a valid e-mail address" in response.content.decode()


def test_adding_an_address_already_listed_says_so(editor: Any) -> None:
    dns_add(channel="email", address="twice@example.org", reason=DnsReason.UNSUBSCRIBE)
    response = editor.post(ADD, {"add-channel": "email", "add-address": "twice@example.org"}, follow=True)
    assert "already on the Do-Not-Send list" in response.content.decode()
    assert DoNotSendEntry.objects.count() == 1
    assert DoNotSendEntry.objects.get().reason == DnsReason.UNSUBSCRIBE


def test_htmx_add_returns_the_list_with_the_new_entry_and_a_toast(editor: Any) -> None:
    response = editor.post(
        ADD, {"add-channel": "email", "add-address": "hx@example.org", "q": ""}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="dns-body">')
    assert "hx@example.org" in html
    assert "added to the Do-Not-Send list" in html  # out-of-band toast


# --- remove ---------------------------------------------------------------------------------------------


def test_remove_needs_a_reason_shown_next_to_the_field(editor: Any) -> None:
    entry = dns_add(channel="email", address="keep@example.org", reason=DnsReason.HARD_BOUNCE)
    url = reverse("bounces:dns-remove", args=[entry.pk])
    response = editor.post(url, {f"remove-{entry.pk}-reason": "  "}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    row = html[html.index(f'id="dns-entry-{entry.pk}"') :]
    assert '<details class="remove" open>' in row[:3000]
    assert "field-error" in row[:3000] and "This field is required" in row[:3000]
    entry.refresh_from_db()
    assert entry.active


def test_remove_with_reason_is_recorded(editor: Any, staff_user: Any) -> None:
    entry = dns_add(channel="email", address="fixed@example.org", reason=DnsReason.HARD_BOUNCE)
    url = reverse("bounces:dns-remove", args=[entry.pk])
    response = editor.post(url, {f"remove-{entry.pk}-reason": "Client gave a corrected address"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert not entry.active
    assert entry.removed_by == staff_user
    assert entry.removal_reason == "Client gave a corrected address"
    page = editor.get(LIST).content.decode()
    assert "fixed@example.org removed from the Do-Not-Send list." in page  # the toast
    assert f'id="dns-entry-{entry.pk}"' not in page


def test_remove_unknown_entry_is_404(editor: Any) -> None:
    assert editor.post(reverse("bounces:dns-remove", args=[999999]), {"remove-999999-reason": "x"}).status_code == 404


# --- failure summary ---------------------------------------------------------------------------------


def _failed(channel: str, category: str, hard: bool, *, when: dt.datetime, status: str = "failed") -> None:
    delivery = make_delivery(channel=channel, status=status)
    type(delivery).objects.filter(pk=delivery.pk).update(bounce_category=category, hard_bounce=hard, finished_at=when)


def test_summary_counts_failures_by_category_and_channel(client: Any, django_user_model: Any) -> None:
    client.force_login(user_with(django_user_model, "view_history", username="historian"))
    now = timezone.now()
    for _ in range(3):
        _failed("email", "Bad-Mailbox", True, when=now)
    _failed("sms", "Bad-Mailbox", True, when=now)
    _failed("email", "Quota-Issues", False, when=now)
    _failed("email", "DNS", True, when=now, status="suppressed")
    _failed("email", "Bad-Mailbox", True, when=now - dt.timedelta(days=70))  # outside the month

    response = client.get(reverse("messaging:summary"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "4 Bad-Mailbox" in html and "this month" in html
    rows = {r.category: r for r in response.context["rows"]}
    assert [c.count for c in rows["Bad-Mailbox"].cells] == [3, 1, 0, 0, 0]  # email, sms, voice, fax, portal
    assert rows["Bad-Mailbox"].hard and not rows["Quota-Issues"].hard
    assert rows["Quota-Issues"].total == 1 and rows["DNS"].total == 1
    totals = response.context["totals"]
    assert (totals["hard"], totals["soft"], totals["all"]) == (5, 1, 6)
    link = rows["Bad-Mailbox"].cells[0].link
    assert link.startswith(reverse("messaging:history") + "?")
    assert "status=failed" in link and "category=Bad-Mailbox" in link and "channel=email" in link
    assert "date_from=" in link and "date_to=" in link
    assert "The email box is invalid." in html  # the seed's explanation as a tooltip


def test_summary_date_range_and_channel_filter(client: Any, django_user_model: Any) -> None:
    client.force_login(user_with(django_user_model, "view_history", username="historian"))
    old = timezone.now() - dt.timedelta(days=70)
    _failed("email", "Bad-Domain", True, when=old)
    _failed("fax", "No-Answer-From-Host", False, when=old)
    start, end = (old - dt.timedelta(days=1)).date(), (old + dt.timedelta(days=1)).date()
    response = client.get(reverse("messaging:summary"), {"start": start.isoformat(), "end": end.isoformat()})
    totals = response.context["totals"]
    assert (totals["hard"], totals["soft"]) == (1, 1)
    response = client.get(
        reverse("messaging:summary"), {"start": start.isoformat(), "end": end.isoformat(), "channel": "fax"}
    )
    assert [label for _, label in response.context["channels"]] == ["Fax"]
    assert response.context["totals"]["all"] == 1


def test_summary_rejects_an_end_before_the_start(client: Any, django_user_model: Any) -> None:
    client.force_login(user_with(django_user_model, "view_history", username="historian"))
    response = client.get(reverse("messaging:summary"), {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 200
    assert "The end date is before the start date." in response.content.decode()
