"""Writes of the bounce policy: the Do-Not-Send list, soft-bounce counting and SMS STOP/START.

- ``bounce_record``: what a message that *ended* failed does to its address (hard: a Do-Not-Send
  entry; soft: one SoftBounce row per message, and after too many within a window a pause that
  expires — :mod:`bounces.conf`). The caller hands in each message once, when its redials and
  resends are used up: a redial or resend is not a new bounce.
- ``bounce_success``: a delivered message clears the address's soft failures and lifts its pause.
- ``dns_add`` / ``dns_remove`` / ``address_suppression`` / ``address_pause``: the list itself (one
  active entry per channel and address; removal keeps the row, with who, when and why). A pause is
  listed too, but it is not a block: ``address_suppression`` ignores it.
- ``sms_opt_out`` / ``sms_opt_in``: the Do-Not-Send side of STOP and START replies.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from bounces import conf
from bounces.models import DnsChannel, DnsReason, DoNotSendEntry, SoftBounce

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from bounces.taxonomy import Classification

logger = logging.getLogger(__name__)

DNS_CATEGORY = "DNS"
DOMAIN_DNS_CATEGORY = "Domain DNS"
# The channels the list holds addresses of (one vocabulary: DnsChannel). A portal login is not one:
# a portal message that cannot be delivered is recorded on its delivery only.
CHANNELS = frozenset(DnsChannel.values)
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class DeliveryRow(Protocol):
    """A delivery as the bounce policy reads it: a ``messaging.models.Delivery`` row, which the
    messaging app (the layer above) hands in; bounces never imports it."""

    pk: Any
    channel: str
    address: str


def _now() -> datetime:
    from core.clock import now

    return now()


def _user(user: AbstractBaseUser | None) -> Any:
    return user if user is not None and getattr(user, "is_authenticated", False) else None


# --- Addresses ---------------------------------------------------------------------------------


def normalise_address(*, channel: str, address: str, is_domain: bool = False, strict: bool = False) -> str:
    """The stored form of an address: E.164 for phones, lower-case e-mail, or a bare domain.

    ``strict`` (staff entry) requires a phone number that exists in the numbering plan; otherwise
    a possible number is enough (test and demo numbers such as +1 555 …). Raises
    ``ValidationError`` with a message staff can act on.
    """
    if channel not in CHANNELS:
        raise ValidationError(f"Unknown channel {channel!r}.")
    value = (address or "").strip()
    if not value:
        raise ValidationError("Enter an address.")
    if is_domain:
        if not DnsChannel.holds_email(channel):
            raise ValidationError("Only e-mail addresses can be blocked by domain.")
        return _normalise_domain(value)
    if DnsChannel.holds_email(channel):
        if value.startswith("@"):
            raise ValidationError("To block a whole domain, tick “Whole domain”, or enter an e-mail address.")
        value = value.lower()
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError("Enter a valid e-mail address, such as name@example.org.") from None
        return value
    return normalise_phone(value, strict=strict)


def normalise_phone(value: str, *, strict: bool = False) -> str:
    try:
        number = phonenumbers.parse(value, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    check = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    if number is None or not check(number):
        raise ValidationError("Enter a valid phone number, such as +1 617 555 0123.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _normalise_domain(value: str) -> str:
    domain = value.lower().lstrip("@").rstrip(".")
    if "@" in domain:
        domain = domain.rsplit("@", 1)[-1]
    if not _DOMAIN_RE.match(domain):
        raise ValidationError("Enter a valid domain, such as @example.org.")
    return domain


_E164_RE = re.compile(r"\+[1-9]\d{6,14}")


def _stored_address(channel: str, address: str) -> str:
    """Best-effort normalisation for addresses that come from deliveries (already validated once).

    Cheap on the hot path (every delivered callback): an e-mail address is only lower-cased (what
    validating it would return either way), and a number already in E.164 is not parsed again."""
    if DnsChannel.holds_email(channel):
        return address.strip().lower()
    if _E164_RE.fullmatch(address):
        return address
    try:
        return normalise_address(channel=channel, address=address)
    except ValidationError:
        return address.strip().lower() if DnsChannel.holds_email(channel) else address.strip()


# --- The Do-Not-Send list ------------------------------------------------------------------------


def _active(channel: str, address: str, is_domain: bool) -> DoNotSendEntry | None:
    return (
        DoNotSendEntry.objects.select_for_update()
        .filter(channel=channel, address=address, is_domain=is_domain, active=True)
        .first()
    )


def _retire(entry: DoNotSendEntry, *, user: Any, reason: str, now: datetime) -> None:
    entry.active = False
    entry.removed_at = now
    entry.removed_by = user
    entry.removal_reason = reason[:255]
    entry.save(update_fields=["active", "removed_at", "removed_by", "removal_reason"])


def dns_add(
    *,
    channel: str,
    address: str,
    is_domain: bool = False,
    reason: str,
    user: AbstractBaseUser | None = None,
    note: str = "",
    category: str = "",
    source_delivery: DeliveryRow | None = None,
    expires_at: datetime | None = None,
) -> DoNotSendEntry:
    """Put an address (or an e-mail domain) on the Do-Not-Send list; idempotent.

    One active entry per channel and address: adding again returns the entry that exists. A
    permanent entry replaces a temporary (expiring) one; an expired entry is retired first.
    Raises ``ValidationError`` for an address that is not valid on the channel.
    """
    if reason not in DnsReason.values:
        raise ValueError(f"unknown Do-Not-Send reason {reason!r}")
    value = normalise_address(channel=channel, address=address, is_domain=is_domain)
    fields = {
        "reason": reason,
        "category": category or (DOMAIN_DNS_CATEGORY if is_domain else DNS_CATEGORY),
        "note": note[:255],
        "source_delivery": source_delivery,
        "created_by": _user(user),
        "expires_at": expires_at,
    }
    for _ in range(3):
        try:
            with transaction.atomic():
                return _dns_add_locked(channel, value, is_domain, fields)
        except IntegrityError:
            # A concurrent add won the race for the one active entry: read it on the next round.
            continue
    raise RuntimeError("could not add the Do-Not-Send entry")  # pragma: no cover


def _dns_add_locked(channel: str, address: str, is_domain: bool, fields: dict[str, Any]) -> DoNotSendEntry:
    now = _now()
    existing = _active(channel, address, is_domain)
    if existing is not None:
        expired = existing.expires_at is not None and existing.expires_at <= now
        upgrade = existing.expires_at is not None and (
            fields["expires_at"] is None or fields["expires_at"] > existing.expires_at
        )
        if not (expired or upgrade):
            return existing
        _retire(
            existing,
            user=None,
            reason="Suppression expired" if expired else f"Replaced: {DnsReason(fields['reason']).label}",
            now=now,
        )
    return DoNotSendEntry.objects.create(
        channel=channel, address=address, is_domain=is_domain, created_at=now, **fields
    )


def dns_remove(*, entry: DoNotSendEntry, user: AbstractBaseUser | None, reason: str) -> DoNotSendEntry:
    """Take an entry off the list. The reason is required and kept with the (inactive) entry."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for removing this entry.")
    with transaction.atomic():
        locked = DoNotSendEntry.objects.select_for_update().get(pk=entry.pk)
        if locked.active:
            _retire(locked, user=_user(user), reason=reason, now=_now())
    entry.refresh_from_db()
    return entry


def _unexpired(channel: str) -> Any:
    return DoNotSendEntry.objects.filter(channel=channel, active=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=_now())
    )


def address_suppression(channel: str, address: str) -> DoNotSendEntry | None:
    """The active, unexpired entry that blocks ``address`` on ``channel`` (address before domain).

    The category a suppressed delivery shows is ``entry.suppression_category``: "DNS" for an
    address entry, "Domain DNS" for an e-mail domain entry. A pause after repeated soft failures
    blocks nothing (see :func:`address_pause`).
    """
    if not address:
        return None
    value = _stored_address(channel, address)
    wanted = Q(is_domain=False, address=value)
    if DnsChannel.holds_email(channel) and "@" in value:
        wanted |= Q(is_domain=True, address=value.rsplit("@", 1)[1])
    entries = (
        _unexpired(channel).exclude(reason=DnsReason.SOFT_BOUNCES).filter(wanted).order_by("is_domain", "-created_at")
    )
    return entries.first()


def address_pause(channel: str, address: str) -> DoNotSendEntry | None:
    """The address's pause after repeated soft failures while it lasts (messages wait until
    ``expires_at``), else None."""
    if not address:
        return None
    value = _stored_address(channel, address)
    return _unexpired(channel).filter(reason=DnsReason.SOFT_BOUNCES, is_domain=False, address=value).first()


# --- Bounces ---------------------------------------------------------------------------------------


def bounce_reason_for(channel: str, classification: Classification) -> str:
    """Which Do-Not-Send reason a hard failure records."""
    hint = (getattr(classification, "reason", "") or "").lower()
    if classification.category in (DNS_CATEGORY, DOMAIN_DNS_CATEGORY):
        if channel == DnsChannel.stop_channel():  # the carrier refuses a number that replied STOP
            return DnsReason.SMS_STOP
        if "complain" in hint or "spam" in hint:
            return DnsReason.COMPLAINT
        if "unsubscrib" in hint:
            return DnsReason.UNSUBSCRIBE
        return DnsReason.PROVIDER
    return DnsReason.HARD_BOUNCE


def bounce_record(*, delivery: DeliveryRow, classification: Classification) -> None:
    """Apply the bounce policy to the address of a message that ended failed (once per message,
    after its last redial / resend).

    Hard: the address goes on the Do-Not-Send list for the delivery's channel (idempotent).
    Soft: one SoftBounce row for the message (idempotent); enough failed messages within the
    window pause the address for a while (:mod:`bounces.conf`).
    Failures on our side (``classification.ours``) say nothing about the recipient: ignored.
    """
    if not delivery.address or getattr(classification, "ours", False) or delivery.channel not in CHANNELS:
        return
    if classification.hard:
        _record_hard(delivery, classification)
    else:
        _record_soft(delivery, classification)


def _record_hard(delivery: DeliveryRow, classification: Classification) -> None:
    try:
        dns_add(
            channel=delivery.channel,
            address=delivery.address,
            reason=bounce_reason_for(delivery.channel, classification),
            category=classification.category,
            source_delivery=delivery,
            note=(getattr(classification, "reason", "") or "")[:255],
        )
    except ValidationError:
        logger.warning("delivery %s: hard bounce for an address that is not valid on its channel", delivery.pk)


def _record_soft(delivery: DeliveryRow, classification: Classification) -> None:
    now = _now()
    address = _stored_address(delivery.channel, delivery.address)
    if SoftBounce.objects.filter(delivery_id=delivery.pk).exists():
        return  # this message is counted already: one message is one failure, whatever its attempts
    SoftBounce.objects.create(
        channel=delivery.channel,
        address=address,
        category=classification.category,
        delivery_id=delivery.pk,
        occurred_at=now,
    )
    policy = conf.pause_policy()
    if not policy.on:
        return
    failed = (
        SoftBounce.objects.filter(
            channel=delivery.channel, address=address, cleared_at__isnull=True, occurred_at__gt=now - policy.window
        )
        .values("delivery_id")
        .distinct()
        .count()
    )
    if failed < policy.failed_messages:
        return
    try:
        dns_add(
            channel=delivery.channel,
            address=address,
            reason=DnsReason.SOFT_BOUNCES,
            category=classification.category,
            source_delivery=delivery,
            note=f"{failed} messages ended failed (soft) within {policy.window.days} days",
            expires_at=now + policy.pause,
        )
    except ValidationError:
        logger.warning("delivery %s: soft failures for an address that is not valid on its channel", delivery.pk)


def bounce_success(*, channel: str, address: str) -> int:
    """A message reached ``address``: its soft failures stop counting and its pause (if any) is
    lifted. Returns how many failures were cleared."""
    if not address:
        return 0
    now, value = _now(), _stored_address(channel, address)
    if connection.vendor == "postgresql":
        return _bounce_success_in_one_statement(channel, value, now)
    DoNotSendEntry.objects.filter(
        channel=channel, address=value, is_domain=False, active=True, reason=DnsReason.SOFT_BOUNCES
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).update(
        active=False, removed_at=now, removal_reason=_DELIVERED
    )  # a pause that ran out by itself keeps its record: not "lifted" by a later delivery
    return SoftBounce.objects.filter(channel=channel, address=value, cleared_at__isnull=True).update(cleared_at=now)


_DELIVERED = "A message to the address was delivered"


def _bounce_success_in_one_statement(channel: str, address: str, now: datetime) -> int:
    """Both updates of :func:`bounce_success` in one round trip (every delivered callback runs it and
    it nearly always changes nothing: issue 16 §1)."""
    quote = connection.ops.quote_name
    entries, soft = quote(DoNotSendEntry._meta.db_table), quote(SoftBounce._meta.db_table)
    # Only model table names are interpolated; values are parameters.
    sql = (
        f"WITH lifted AS (UPDATE {entries} SET active = false, removed_at = %(now)s, removal_reason = %(why)s "  # noqa: S608
        "WHERE channel = %(channel)s AND address = %(address)s AND NOT is_domain AND active AND reason = %(reason)s "
        "AND (expires_at IS NULL OR expires_at > %(now)s) "
        f"RETURNING 1) UPDATE {soft} SET cleared_at = %(now)s "
        "WHERE channel = %(channel)s AND address = %(address)s AND cleared_at IS NULL"
    )
    params = {
        "now": connection.ops.adapt_datetimefield_value(now),
        "why": _DELIVERED,
        "channel": channel,
        "address": address,
        "reason": str(DnsReason.SOFT_BOUNCES),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- SMS STOP / START ------------------------------------------------------------------------------


def sms_opt_out(*, phone: str, evidence: str = "") -> DoNotSendEntry:
    """A STOP reply: the number goes on the SMS Do-Not-Send list (the SMS channel also marks the
    clients with this cell phone)."""
    number = normalise_phone(phone)
    return dns_add(
        channel=DnsChannel.stop_channel(),
        address=number,
        reason=DnsReason.SMS_STOP,
        category=DNS_CATEGORY,
        note=evidence,
    )


def sms_opt_in(*, phone: str, evidence: str = "") -> int:
    """A START reply: lifts the STOP entry (other entries stay). Returns how many were lifted."""
    number = normalise_phone(phone)
    with transaction.atomic():
        entries = list(
            DoNotSendEntry.objects.filter(
                channel=DnsChannel.stop_channel(),
                address=number,
                is_domain=False,
                active=True,
                reason=DnsReason.SMS_STOP,
            )
        )
        for entry in entries:
            dns_remove(entry=entry, user=None, reason=f"Replied START. {evidence}".strip())
    return len(entries)
