"""Clients > Scheduled Appointments: upcoming appointments, their confirmation and client replies.

Setting 673 (MESSAGING - Show Client Replies on SAL Appointments) shows what clients texted back
beside each appointment. Cancel requests (by text or keypad) stay at the top under "Needs
attention" until someone marks them reviewed; the appointment itself is never changed by a reply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, render

from clients.models import Appointment, AppointmentStatus, ConfirmationStatus
from core import clock
from core.access import access_log, filter_summary
from core.models import AccessKind
from messaging.models import AppointmentReply, Delivery, InboundMessage
from messaging.status_words import StatusWords, status_words
from messaging.system_settings import get_setting

PAGE = "messaging/appointments.html"
RANGES = {"1": "Today", "7": "Next 7 days", "14": "Next 14 days", "30": "Next 30 days"}
CONFIRMATION_FILTERS = {"": "Any reply", **dict(ConfirmationStatus.choices)}
REPLIES_SHOWN = 3
# The latest messages shown per appointment (reminders x channels: a handful); older ones are counted.
MESSAGES_SHOWN = 8


@dataclass(frozen=True)
class Filters:
    days: str = "14"
    confirmation: str = ""
    show_cancelled: bool = False

    @classmethod
    def from_request(cls, request: HttpRequest) -> Filters:
        days = request.GET.get("days", "14")
        confirmation = request.GET.get("confirmation", "")
        return cls(
            days=days if days in RANGES else "14",
            confirmation=confirmation if confirmation in CONFIRMATION_FILTERS else "",
            show_cancelled=request.GET.get("cancelled") == "1",
        )


def upcoming_appointments(filters: Filters, *, show_replies: bool) -> QuerySet[Appointment]:
    """Appointments from the start of today (clinic time) over the chosen range, with reply data."""
    today = clock.now().astimezone(clock.clinic_zone()).date()
    start = dt.datetime.combine(today, dt.time.min, tzinfo=clock.clinic_zone())
    qs = Appointment.objects.filter(start__gte=start, start__lt=start + dt.timedelta(days=int(filters.days)))
    if not filters.show_cancelled:
        qs = qs.exclude(status__in=[AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW])
    if filters.confirmation:
        qs = qs.filter(confirmation=filters.confirmation)
    # Every message for the appointment, automated or sent from the New tab (a manual broadcast of an
    # appointment-based type sets Delivery.appointment too): one query for the page, oldest first.
    sent = Delivery.objects.select_related("broadcast__created_by").order_by("created_at", "id")
    qs = qs.select_related("client", "clinician__staff_profile").prefetch_related(
        Prefetch("deliveries", queryset=sent, to_attr="all_messages")
    )
    if show_replies:
        qs = qs.prefetch_related(
            Prefetch("replies", queryset=InboundMessage.objects.order_by("-received_at", "-id"), to_attr="texts")
        )
    return qs.order_by("start", "id")


@dataclass(frozen=True)
class MessageLine:
    """One message sent (or due) for an appointment, as the Messages sent column shows it."""

    pk: int
    channel: str
    at: dt.datetime  # when it went out; for one not sent yet, when it was created
    sent: bool
    words: StatusWords
    by: str  # "automated" or the user who sent it from the New tab


def _message_line(d: Delivery) -> MessageLine:
    words = status_words(
        status=d.status, reason=d.status_reason, next_attempt_at=d.next_attempt_at, attempt_count=d.attempt_count
    )
    return MessageLine(
        pk=d.pk,
        channel=d.get_channel_display(),
        at=d.sent_at or d.created_at,
        sent=d.sent_at is not None,
        words=words,
        by=d.broadcast.sent_by_label,
    )


def needs_attention() -> QuerySet[AppointmentReply]:
    """Cancel requests not yet reviewed, for appointments still ahead."""
    return (
        AppointmentReply.objects.filter(
            answer=ConfirmationStatus.DECLINED, reviewed_at__isnull=True, appointment__start__gte=clock.now()
        )
        .exclude(appointment__status=AppointmentStatus.CANCELLED)
        .select_related("appointment__client", "appointment__clinician")
        .order_by("appointment__start", "id")
    )


def _context(request: HttpRequest, filters: Filters) -> dict[str, Any]:
    show_replies = bool(get_setting(673))
    page = Paginator(upcoming_appointments(filters, show_replies=show_replies), 50).get_page(request.GET.get("page"))
    for appointment in page:
        appointment.recent_texts = getattr(appointment, "texts", [])[:REPLIES_SHOWN]
        appointment.messages = [_message_line(d) for d in appointment.all_messages[-MESSAGES_SHOWN:]]
        appointment.messages_hidden = max(0, len(appointment.all_messages) - MESSAGES_SHOWN)
    attention = list(needs_attention()[:50])
    shown = {"days": filters.days, "confirmation": filters.confirmation, "cancelled": filters.show_cancelled}
    summary = filter_summary({**shown, "page": page.number, "needs_attention": len(attention)})
    access_log(request, kind=AccessKind.APPOINTMENTS, summary=summary, rows=len(page.object_list))
    return {
        "page": page,
        "filters": filters,
        "ranges": RANGES,
        "confirmation_filters": CONFIRMATION_FILTERS,
        "show_replies": show_replies,
        "attention": attention,
        "zone": clock.clinic_zone(),
        "query": request.GET.urlencode(),
        "pager_query": _pager_query(filters),
    }


def _pager_query(filters: Filters) -> str:
    query = QueryDict(mutable=True)
    query.update({"days": filters.days, "confirmation": filters.confirmation})
    if filters.show_cancelled:
        query["cancelled"] = "1"
    return query.urlencode() + "&"


@login_required
@permission_required("clients.view_appointment", raise_exception=True)
def appointments(request: HttpRequest) -> HttpResponse:
    """The list (GET; htmx gets the results partial); POST marks a cancel request reviewed."""
    if request.method == "POST":
        return _mark_reviewed(request)
    filters = Filters.from_request(request)
    template = f"{PAGE}#results" if request.htmx else PAGE
    return render(request, template, _context(request, filters))


def _mark_reviewed(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("messaging.change_appointmentreply"):
        raise PermissionDenied("You cannot mark client replies reviewed.")
    reply_id = _reply_id(request.POST.get("reply", ""))
    if reply_id is None:
        return HttpResponseBadRequest("Choose a client reply to mark reviewed.", content_type="text/plain")
    reply = get_object_or_404(AppointmentReply, pk=reply_id)
    if reply.reviewed_at is None:
        AppointmentReply.objects.filter(pk=reply.pk, reviewed_at__isnull=True).update(
            reviewed_at=clock.now(), reviewed_by=request.user
        )
        messages.success(request, "Marked reviewed.")
    filters = Filters.from_request(request)
    template = f"{PAGE}#attention" if request.htmx else PAGE
    return render(request, template, _context(request, filters))


def _reply_id(raw: str) -> int | None:
    """The posted reply's id: a positive whole number (issue 13: any other text was a 500)."""
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        return None
    return int(raw) or None
