"""Utilities > Messaging > Scheduled: broadcasts not finished yet, and automated messages waiting.

Who may do what (issue 14 §1):

* see the tab: ``messaging.send_messages`` or ``messaging.view_history`` (the users who see New or
  History: the list holds nothing they could not see there);
* Cancel and Reschedule: ``messaging.send_messages``, and for a broadcast someone else created
  ``messaging.cancel_any_broadcast`` (``messaging.broadcasts.may_cancel``, the progress box's rule);
* Hold and Release automated messages: ``messaging.hold_automated``.

Thin views: the forms validate, ``messaging.scheduled`` reads and writes. Actions are plain POST
forms (CSRF, no script needed) answered with a redirect back; a form error re-draws the page with the
error beside the form and status 400. Opening a group lists its recipients: that is written to the
access log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core import clock
from core.access import access_log
from core.models import AccessKind
from messaging import scheduled as sched
from messaging.broadcasts import broadcast_cancel, may_cancel
from messaging.models import Broadcast

PAGE = "messaging/scheduled.html"
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
# A running broadcast's card polls every 2 s for at most this long after the page was opened
# (the progress box on the New tab stops after the same time).
POLL_FOR = dt.timedelta(minutes=15)

send_required = permission_required("messaging.send_messages", raise_exception=True)
hold_required = permission_required("messaging.hold_automated", raise_exception=True)


def _may_view(user: Any) -> bool:
    return user.has_perm("messaging.send_messages") or user.has_perm("messaging.view_history")


# --- Forms ------------------------------------------------------------------------------------------


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=255,
        error_messages={"required": "Say why it is cancelled: the reason is kept with the broadcast."},
    )

    def clean_reason(self) -> str:
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise forms.ValidationError(self.fields["reason"].error_messages["required"])
        return reason


class RescheduleForm(forms.Form):
    broadcast_at = forms.DateTimeField(
        label="New date and time",
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"],
        error_messages={"required": "Choose the new date and time.", "invalid": "Enter a date and time."},
    )

    def __init__(self, *args: Any, broadcast: Broadcast, **kwargs: Any) -> None:
        self.broadcast = broadcast
        super().__init__(*args, **kwargs)

    def clean_broadcast_at(self) -> dt.datetime:
        at: dt.datetime = self.cleaned_data["broadcast_at"]
        why = sched.reschedule_error(self.broadcast, at)
        if why:
            raise forms.ValidationError(why)
        return at


class HoldForm(forms.Form):
    group = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    delivery = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    reason = forms.CharField(max_length=255, required=False)


# --- Page -------------------------------------------------------------------------------------------


@login_required
@require_GET
def scheduled(request: HttpRequest) -> HttpResponse:
    if not _may_view(request.user):
        raise PermissionDenied("You do not have permission to see scheduled messages.")
    return _render_page(request)


def _render_page(request: HttpRequest, *, errors: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    now = clock.now()
    page = sched.scheduled_page(now)
    group_id = _int(request.GET.get("group"))
    opened = next((g for g in page.groups if g.broadcast.pk == group_id), None)
    messages_of_group = sched.group_messages(opened.broadcast.pk) if opened is not None else []
    if opened is not None:
        access_log(
            request,
            kind=AccessKind.HISTORY,
            object_ids=[opened.broadcast.pk],
            summary=f"Scheduled: automated messages waiting, broadcast {opened.broadcast.pk}",
            rows=len(messages_of_group),
        )
    context = {
        "page": page,
        "now": now,
        "since": int(now.timestamp()),
        "poll": True,
        "opened": opened,
        "group_messages": [(d, sched.hold_of(d)) for d in messages_of_group],
        "group_limit": sched.GROUP_LIMIT,
        "history_url": reverse("messaging:history"),  # + "<id>/": a delivery's page, without a reverse per row
        "errors": errors or {},
        "zone": timezone.localtime(now).strftime("%Z"),
    }
    return render(request, PAGE, context, status=status)


def _int(raw: str | None) -> int | None:
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if 0 < value < 2**63 else None


@login_required
@require_GET
def broadcast_card(request: HttpRequest, pk: int) -> HttpResponse:
    """One broadcast's progress bar and counts, polled while it sends (``since``: when the page was opened;
    the card's forms are outside the polled part, so a reason being typed is never replaced)."""
    if not _may_view(request.user):
        raise PermissionDenied("You do not have permission to see scheduled messages.")
    broadcast = get_object_or_404(Broadcast.objects.select_related("message_type", "created_by"), pk=pk)
    now = clock.now()
    since = _int(request.GET.get("since"))
    fresh = since is not None and 0 <= now.timestamp() - since <= POLL_FOR.total_seconds()
    row = sched.broadcast_row(broadcast, now)
    context = {"row": row, "b": broadcast, "c": row.counts, "since": since, "poll": fresh}
    return render(request, f"{PAGE}#counts", context)


# --- Actions ----------------------------------------------------------------------------------------


def _own_broadcast(request: HttpRequest, pk: int) -> Broadcast:
    broadcast = get_object_or_404(Broadcast.objects.select_related("message_type", "created_by"), pk=pk)
    if broadcast.automated or not may_cancel(request.user, broadcast):
        raise PermissionDenied("Changing another user's broadcast needs the 'cancel any broadcast' permission.")
    return broadcast


def _back() -> HttpResponse:
    return redirect(reverse("messaging:scheduled"))


@login_required
@send_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = _own_broadcast(request, pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _render_page(request, errors={"cancel_pk": pk, "form": form}, status=400)
    if broadcast.state != Broadcast.State.ACTIVE:
        messages.info(request, f"Broadcast #{pk} was already cancelled.")
        return _back()
    count = broadcast_cancel(broadcast=broadcast, user=request.user, reason=form.cleaned_data["reason"])
    sched.record_cancel(user=request.user, broadcast=broadcast, count=count)
    messages.success(request, f"Broadcast #{pk} cancelled: {count} message{'s' if count != 1 else ''} will not go out.")
    return _back()


@login_required
@send_required
@require_POST
def reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = _own_broadcast(request, pk)
    form = RescheduleForm(request.POST, broadcast=broadcast)
    if form.is_valid():
        try:
            moved = sched.broadcast_reschedule(
                broadcast=broadcast, user=request.user, at=form.cleaned_data["broadcast_at"]
            )
        except sched.ActionRefused as exc:  # the broadcast changed meanwhile (sending started): not the form's fault
            messages.error(request, f"Broadcast #{pk} was not rescheduled: {exc}")
            return _back()
        else:
            when = timezone.localtime(broadcast.broadcast_at).strftime("%a %b %-d, %-I:%M %p %Z")
            messages.success(
                request, f"Broadcast #{pk} now goes out {when} ({moved} message{'s' if moved != 1 else ''})."
            )
            return _back()
    return _render_page(request, errors={"reschedule_pk": pk, "form": form}, status=400)


@login_required
@hold_required
@require_POST
def hold(request: HttpRequest) -> HttpResponse:
    return _hold_or_release(request, holding=True)


@login_required
@hold_required
@require_POST
def release(request: HttpRequest) -> HttpResponse:
    return _hold_or_release(request, holding=False)


def _hold_or_release(request: HttpRequest, *, holding: bool) -> HttpResponse:
    form = HoldForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Choose a group of automated messages (or one message) to hold or release.", status=400)
    data = form.cleaned_data
    group = get_object_or_404(Broadcast, pk=data["group"], automated=True)
    one = data["delivery"]
    if holding:
        count = sched.automated_hold(user=request.user, broadcast_id=group.pk, delivery_id=one, reason=data["reason"])
        verb = "held"
    else:
        count = sched.automated_release(user=request.user, broadcast_id=group.pk, delivery_id=one)
        verb = "released"
    what = f"{count} automated message{'s' if count != 1 else ''} {verb}" if count else f"Nothing to be {verb}"
    messages.success(request, f"{what} ({group.message_type.name}, {group.start_date or ''}).".replace(", )", ")"))
    target = reverse("messaging:scheduled")
    if one is not None or request.POST.get("open"):
        target += f"?group={group.pk}#group-{group.pk}"
    return redirect(target)


urlpatterns = [
    path("", scheduled, name="scheduled"),
    path("<int:pk>/card/", broadcast_card, name="scheduled-card"),
    path("<int:pk>/cancel/", cancel, name="scheduled-cancel"),
    path("<int:pk>/reschedule/", reschedule, name="scheduled-reschedule"),
    path("hold/", hold, name="scheduled-hold"),
    path("release/", release, name="scheduled-release"),
]
