"""Reads and writes of the client portal's message inbox (setting 620 exposes it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from clients.models import PortalAccount
from messaging.automation.specs import PORTAL_NOTICE
from messaging.channels.registry import all_specs, spec_for
from messaging.models import PortalMessageRead

SHOWN_STATUSES = ("sent", "delivered")
# Which copy of a message sent on several channels the inbox shows: the portal's own, then by rank.
CHANNEL_PREFERENCE = {spec.kind: (0 if spec.address_field else 1, spec.portal_rank) for spec in all_specs()}
INBOX_LIMIT = 200


def portal_exposed() -> bool:
    from messaging.system_settings import get_setting

    return bool(get_setting(620))


def has_active_account(client_id: int) -> bool:
    """Whether the client can read a portal message now (an active account of an active client)."""
    return PortalAccount.objects.filter(client_id=client_id, is_active=True, client__is_active=True).exists()


def portal_users_with_email(email: str) -> list[Any]:
    """Active portal logins whose own or client's e-mail is ``email`` (for "Forgot password")."""
    email = (email or "").strip()
    if not email:
        return []
    accounts = PortalAccount.objects.filter(is_active=True, client__is_active=True, user__is_active=True)
    matching = accounts.filter(Q(user__email__iexact=email) | Q(client__email__iexact=email)).select_related("user")
    return [account.user for account in matching if account.user.has_usable_password()]


def account_for(user: Any) -> PortalAccount | None:
    if not getattr(user, "is_authenticated", False):
        return None
    accounts = PortalAccount.objects.filter(user=user, is_active=True, client__is_active=True)
    return accounts.select_related("client").first()


@dataclass(frozen=True)
class InboxItem:
    delivery: Any
    title: str
    unread: bool


def _sent_to(account: PortalAccount) -> QuerySet[Any]:
    from messaging.models import Delivery

    # The notices that a portal message is waiting are not messages of their own in the inbox.
    return (
        Delivery.objects.filter(client=account.client, status__in=SHOWN_STATUSES)
        .exclude(message_type__code=PORTAL_NOTICE)
        .select_related("message_type", "broadcast", "content")
    )


def inbox(account: PortalAccount) -> list[InboxItem]:
    """Messages sent to the client, newest first; one entry per message when it went on several channels."""
    best: dict[tuple[int, int | None], Any] = {}
    for delivery in _sent_to(account).order_by("-sent_at", "-id")[:INBOX_LIMIT]:
        group = (delivery.broadcast_id, delivery.appointment_id)
        current = best.get(group)
        if current is None or CHANNEL_PREFERENCE.get(delivery.channel, (1, 9)) < CHANNEL_PREFERENCE.get(
            current.channel, (1, 9)
        ):
            best[group] = delivery
    read = set(PortalMessageRead.objects.filter(account=account).values_list("delivery_id", flat=True))
    # The title a client reads: the subject it was sent with (stored), else the kind of message.
    items = [InboxItem(d, _title(d), d.pk not in read) for d in best.values()]
    return sorted(items, key=lambda i: (i.delivery.sent_at or i.delivery.created_at, i.delivery.pk), reverse=True)


def _title(delivery: Any) -> str:
    subject = delivery.content.subject if delivery.content_id is not None else ""
    return subject or delivery.message_type.name


def message_for(account: PortalAccount, delivery_id: int) -> Any | None:
    """One of the client's messages (None if it is not theirs or was not sent)."""
    return _sent_to(account).filter(pk=delivery_id).first()


@dataclass(frozen=True)
class MessageText:
    subject: str
    body: str


def message_text(delivery: Any) -> MessageText:
    """What the message said, as the client received it on its channel."""
    from messaging.content import rendered_for as render_delivery

    rendered = render_delivery(delivery)
    spec = spec_for(delivery.channel)
    subject = getattr(rendered, spec.subject_field, "") if spec.subject_field else ""
    return MessageText(subject or delivery.message_type.name, getattr(rendered, spec.body_field, ""))


def mark_read(*, account: PortalAccount, delivery: Any) -> None:
    PortalMessageRead.objects.get_or_create(account=account, delivery=delivery)
