"""Broadcast writes (Send, Cancel) and the progress summary read.

``broadcast_create`` writes the broadcast and one delivery per recipient and channel in one
transaction, then asks the dispatcher to look for due work once the transaction has committed.
It is idempotent on the form's idempotency key *and what is sent*: a double click, a resubmitted
form or two racing requests with the same key and the same message give back the one broadcast that
exists; the same key with a changed message, type, channels, dates, time or unticked recipients (a
form restored by Back/Forward and corrected) is a new broadcast (:func:`payload_key`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count

from core import clock
from core.collector import collector_paused
from messaging import dispatch
from messaging.content import Versions, one_off_version
from messaging.copy_rows import copy_rows
from messaging.models import Broadcast, Delivery, MessageType, Status, new_tokens
from messaging.recipients import Excluded, Recipient, RecipientList, recipients_for

BULK_BATCH_SIZE = 5000
log = logging.getLogger(__name__)


class NothingToSend(ValueError):
    """Send was asked for a list without any message to write."""


@dataclass(frozen=True)
class BroadcastResult:
    broadcast: Broadcast
    created: bool
    queued: int = 0
    suppressed: int = 0


def broadcast_create(
    *,
    message_type: MessageType,
    channels: Sequence[str],
    user: Any = None,
    description: str = "",
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    broadcast_at: dt.datetime | None = None,
    only_preferences: bool = False,
    idempotency_key: str | None = None,
    skip_keys: Iterable[str] = (),
    automated: bool = False,
    recipients: RecipientList | None = None,
    one_off_texts: Mapping[str, Mapping[str, str]] | None = None,
) -> BroadcastResult:
    """Create a broadcast with its deliveries (queued, or suppressed for Do-Not-Send addresses).

    The recipients are computed again here (consent or the Do-Not-Send list may have changed since
    Refresh); ``skip_keys`` are the rows staff unticked. ``one_off_texts`` (channel -> template field
    -> text): texts edited on the New tab for this send only; those channels' deliveries use a one-off
    template version (``messaging.content.one_off_version``). Raises :class:`NothingToSend` when no
    message would be written.
    """
    key = (
        payload_key(
            idempotency_key,
            message_type=message_type,
            channels=channels,
            description=description,
            start_date=start_date,
            end_date=end_date,
            broadcast_at=broadcast_at,
            only_preferences=only_preferences,
            skip_keys=skip_keys,
            one_off_texts=one_off_texts,
        )
        if idempotency_key
        else None
    )
    if key is not None and (existing := _existing(key)) is not None:
        return BroadcastResult(broadcast=existing, created=False)
    if recipients is None:
        recipients = recipients_for(
            message_type=message_type,
            channels=channels,
            start_date=start_date,
            end_date=end_date,
            only_preferences=only_preferences,
        )
    recipients = recipients.without(skip_keys)
    suppressed = [e for e in recipients.excluded if e.suppressed]
    if recipients.message_count == 0 and not suppressed:
        raise NothingToSend("Nobody on the list can receive this message on the chosen contact methods.")
    now = clock.now()
    broadcast = Broadcast(
        message_type=message_type,
        description=description,
        start_date=start_date,
        end_date=end_date,
        broadcast_at=max(broadcast_at or now, now),
        only_preferences=only_preferences,
        channels=list(dict.fromkeys(channels)),
        automated=automated,
        created_by=user if user is not None and user.is_authenticated else None,
        created_at=now,
        idempotency_key=key,
    )
    try:
        with transaction.atomic(), collector_paused():  # 100,000 rows that all stay alive (core.collector)
            broadcast.save(force_insert=True)
            rows = _delivery_rows(broadcast, recipients.recipients, suppressed, now)
            languages = _row_languages(recipients.recipients, suppressed)
            _fix_template_versions(broadcast, rows, languages, one_off_texts or {})
            _write_deliveries(broadcast, rows, now)
            transaction.on_commit(_kick_sweeper)
    except IntegrityError:
        if key is not None and (existing := _existing(key)) is not None:
            return BroadcastResult(broadcast=existing, created=False)
        raise
    return BroadcastResult(
        broadcast=broadcast, created=True, queued=recipients.message_count, suppressed=len(suppressed)
    )


def payload_key(
    idempotency_key: str,
    *,
    message_type: MessageType,
    channels: Sequence[str],
    description: str,
    start_date: dt.date | None,
    end_date: dt.date | None,
    broadcast_at: dt.datetime | None,
    only_preferences: bool,
    skip_keys: Iterable[str],
    one_off_texts: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """The duplicate-send guard: the form's key plus a fingerprint of what would be sent."""
    texts = [[channel, sorted(values.items())] for channel, values in sorted((one_off_texts or {}).items())]
    payload = json.dumps(
        [
            *([texts] if texts else []),
            message_type.pk,
            sorted(set(channels)),
            description,
            str(start_date or ""),
            str(end_date or ""),
            broadcast_at.isoformat(timespec="minutes") if broadcast_at else "",
            bool(only_preferences),
            sorted(set(skip_keys)),
        ]
    )
    return f"{idempotency_key[:40]}:{hashlib.sha256(payload.encode()).hexdigest()[:23]}"


def _existing(key: str) -> Broadcast | None:
    return Broadcast.objects.filter(idempotency_key=key).first()


def _kick_sweeper() -> None:
    """Ask the dispatcher to look now; if that fails (broker down) the periodic sweep finds the rows."""
    try:
        dispatch.kick_sweeper()  # looked up at call time: the dispatcher module owns it
    except Exception:
        log.exception("Could not wake the dispatcher; the periodic sweep will send the queued deliveries")


def _delivery_rows(
    broadcast: Broadcast, recipients: list[Recipient], suppressed: list[Excluded], now: dt.datetime
) -> list[dict[str, Any]]:
    """The varying field values (attnames) of every delivery; the rest, and a queued row's status and
    first attempt time (the same for every queued row), come from :func:`_write_deliveries`' shared
    values. A suppressed row states its own."""
    rows: list[dict[str, Any]] = [
        {
            "channel": target.channel,
            "recipient_type": recipient.recipient_type,
            "client_id": recipient.client_id,
            "user_id": recipient.user_id,
            "appointment_id": recipient.appointment_id,
            "recipient_name": recipient.name,
            "address": target.address,
            "address_source": target.source,
        }
        for recipient in recipients
        for target in recipient.targets
    ]
    rows.extend(
        {
            "channel": entry.channel,
            "recipient_type": entry.recipient_type,
            "client_id": entry.client_id,
            "user_id": entry.user_id,
            "appointment_id": entry.appointment_id,
            "recipient_name": entry.name,
            "address": entry.address,
            "address_source": entry.source,
            "status": Status.SUPPRESSED.value,
            "status_reason": entry.reason,
            "bounce_category": entry.category,
            "hard_bounce": True,
            "next_attempt_at": None,
            "finished_at": now,
        }
        for entry in suppressed
    )
    return rows


def _row_languages(recipients: list[Recipient], suppressed: list[Excluded]) -> list[str]:
    """The preferred language of each row's person, in :func:`_delivery_rows`' order."""
    return [r.language for r in recipients for _ in r.targets] + [e.language for e in suppressed]


def _fix_template_versions(
    broadcast: Broadcast,
    rows: list[dict[str, Any]],
    languages: Sequence[str],
    one_off_texts: Mapping[str, Mapping[str, str]],
) -> None:
    """What the messages say is fixed at Send: each row records the template version of its channel
    in its recipient's language (``messaging.languages``: else the clinic's default), or the one-off
    version of a text edited for this send (one text for everyone on that channel). The type's
    variants are read once: the cost does not grow with the recipients."""
    versions = Versions()
    one_off: dict[str, int] = {}
    for channel, values in one_off_texts.items():
        if versions.id_for(broadcast.message_type_id, channel) is not None:
            version = one_off_version(
                broadcast=broadcast, channel=channel, values=dict(values), created_by=broadcast.created_by
            )
            one_off[channel] = version.pk
    chosen: dict[tuple[str, str], int | None] = {}  # (channel, language) -> version: once each
    for row, language in zip(rows, languages, strict=True):
        key = (row["channel"], language)
        if key not in chosen:
            chosen[key] = one_off.get(key[0]) or versions.id_for(broadcast.message_type_id, key[0], language or None)
        row["template_version_id"] = chosen[key]


def _write_deliveries(broadcast: Broadcast, rows: list[dict[str, Any]], now: dt.datetime) -> None:
    """Insert the deliveries: ``COPY`` on PostgreSQL (the bulk-load path), ``bulk_create`` elsewhere.

    Both run in the caller's transaction. Every field not in a row takes the value of a template
    delivery (model defaults, the broadcast, ``now``); each row gets its own token.
    """
    common = {
        "broadcast": broadcast,
        "message_type_id": broadcast.message_type_id,
        "status": Status.QUEUED.value,
        "next_attempt_at": broadcast.broadcast_at,
        "created_at": now,
        "updated_at": now,
    }
    if connection.vendor != "postgresql":
        Delivery.objects.bulk_create([Delivery(**(common | row)) for row in rows], batch_size=BULK_BATCH_SIZE)
        return
    # Row values are plain str/int/bool/None/aware datetime (no field conversion); each row its own token.
    copy_rows(Delivery, Delivery(**common), rows, per_row={"token": iter(new_tokens(len(rows))).__next__})


def may_cancel(user: Any, broadcast: Broadcast) -> bool:
    """Its sender may cancel a broadcast; anyone else's (and an automated one) needs ``cancel_any_broadcast``."""
    own = broadcast.created_by_id is not None and broadcast.created_by_id == user.pk
    return own or user.has_perm("messaging.cancel_any_broadcast")


def broadcast_cancel(*, broadcast: Broadcast, user: Any = None, reason: str = "") -> int:
    """Cancel every delivery of ``broadcast`` that has not gone out; return how many.

    A conditional UPDATE: a delivery the dispatcher has already claimed (sending) or sent is left
    alone, so cancelling never races a send into an inconsistent state. Who cancelled, when and
    ``reason`` (the Scheduled view asks for one; the progress box does not) are kept on the broadcast.
    """
    now = clock.now()
    signed_in = user is not None and user.is_authenticated
    who = user.get_username() if signed_in else "the system"
    reason = " ".join(reason.split())[:255]
    why = f"Cancelled by {who}" + (f": {reason}" if reason else "")
    with transaction.atomic():
        count = Delivery.objects.filter(broadcast=broadcast, status__in=[Status.SCHEDULED, Status.QUEUED]).update(
            status=Status.CANCELLED,
            status_reason=why[:255],
            next_attempt_at=None,
            finished_at=now,
            updated_at=now,
        )
        recorded = {"cancelled_by": user if signed_in else None, "cancelled_at": now, "cancel_reason": reason}
        first = Broadcast.objects.filter(pk=broadcast.pk, cancelled_at__isnull=True).update(
            state=Broadcast.State.CANCELLED, **recorded
        )
        if not first:  # cancelled before: the first cancellation stays the record
            Broadcast.objects.filter(pk=broadcast.pk).update(state=Broadcast.State.CANCELLED)
    broadcast.refresh_from_db(fields=["state", "cancelled_by", "cancelled_at", "cancel_reason"])
    return count


# --- Progress (read) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    queued: int = 0
    sending: int = 0
    sent: int = 0
    delivered: int = 0
    failed_hard: int = 0
    failed_soft: int = 0
    suppressed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return (
            self.queued
            + self.sending
            + self.sent
            + self.delivered
            + self.failed_hard
            + self.failed_soft
            + self.suppressed
            + self.cancelled
        )

    @property
    def open(self) -> int:
        """Messages that have not gone out yet (what Cancel would stop)."""
        return self.queued

    @property
    def is_final(self) -> bool:
        """Every delivery has reached a final state (delivered, failed, suppressed or cancelled)."""
        return self.queued + self.sending + self.sent == 0

    @property
    def done_percent(self) -> int:
        if not self.total:
            return 100
        final = self.delivered + self.failed_hard + self.failed_soft + self.suppressed + self.cancelled
        return round(100 * final / self.total)


def broadcast_progress(broadcast_id: int) -> Progress:
    """Counts of a broadcast's deliveries by status (one grouped query)."""
    counts: dict[str, int] = {}
    rows = (
        Delivery.objects.filter(broadcast_id=broadcast_id)
        .values("status", "hard_bounce")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        status, n = row["status"], row["n"]
        if status == Status.FAILED:
            name = "failed_hard" if row["hard_bounce"] else "failed_soft"
        elif status in (Status.SCHEDULED, Status.QUEUED):
            name = "queued"
        else:
            name = status
        counts[name] = counts.get(name, 0) + n
    return Progress(**counts)
