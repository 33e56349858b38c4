"""Screens: Utilities > Do-Not-Send List, Utilities > Failure Summary, and the public one-click
unsubscribe page (RFC 8058) that e-mails link to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from bounces.forms import DnsAddForm, DnsFilterForm, DnsRemoveForm, PeriodForm
from bounces.models import DnsChannel, DnsReason, DoNotSendEntry
from bounces.services import (
    address_suppression,
    delivery_for_unsubscribe_token,
    dns_add,
    dns_remove,
    unsubscribe_delivery,
)
from core import clock

LIST_PAGE = "bounces/dns_list.html"


def _template(request: HttpRequest, page: str, partial: str) -> str:
    """One view renders the page, or only its partial for an htmx request."""
    return f"{page}#{partial}" if getattr(request, "htmx", False) else page


# --- Do-Not-Send list ---------------------------------------------------------------------------


def dns_entries(*, q: str = "", channel: str = "", reason: str = "", show_removed: bool = False) -> QuerySet:
    entries = DoNotSendEntry.objects.select_related("source_delivery", "created_by", "removed_by")
    if not show_removed:
        now = clock.now()
        entries = entries.filter(active=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    if q:
        entries = entries.filter(Q(address__icontains=q.strip().lstrip("@")) | Q(note__icontains=q.strip()))
    if channel:
        entries = entries.filter(channel=channel)
    if reason:
        entries = entries.filter(reason=reason)
    return entries


def _filters(request: HttpRequest) -> DnsFilterForm:
    data = request.POST if request.method == "POST" else request.GET
    form = DnsFilterForm({k: data.get(k, "") for k in ("q", "channel", "reason", "show_removed") if k in data})
    form.is_valid()
    return form


def _list_context(
    request: HttpRequest,
    *,
    add_form: DnsAddForm | None = None,
    remove_form: DnsRemoveForm | None = None,
    remove_entry: int | None = None,
) -> dict[str, Any]:
    filters = _filters(request)
    data = filters.cleaned_data if filters.is_bound else {}
    page = Paginator(
        dns_entries(
            q=data.get("q", ""),
            channel=data.get("channel", ""),
            reason=data.get("reason", ""),
            show_removed=bool(data.get("show_removed")),
        ),
        50,
    ).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in data.items() if v and k != "show_removed"})
    if data.get("show_removed"):
        query = f"{query}&show_removed=on" if query else "show_removed=on"
    return {
        "filters": filters,
        "page": page,
        "query": query,
        "now": clock.now(),
        "add_form": add_form or DnsAddForm(prefix="add"),
        "remove_form": remove_form,
        "remove_entry": remove_entry,
    }


@login_required
@permission_required("bounces.view_donotsendentry", raise_exception=True)
def dns_list(request: HttpRequest) -> HttpResponse:
    return render(request, _template(request, LIST_PAGE, "results"), _list_context(request))


@login_required
@permission_required("bounces.add_donotsendentry", raise_exception=True)
@require_http_methods(["POST"])
def dns_add_view(request: HttpRequest) -> HttpResponse:
    form = DnsAddForm(request.POST, prefix="add")
    if not form.is_valid():
        status = 200 if request.htmx else 422
        return render(
            request, _template(request, LIST_PAGE, "body"), _list_context(request, add_form=form), status=status
        )
    data = form.cleaned_data
    existing = DoNotSendEntry.objects.filter(
        channel=data["channel"],
        address=data["address"],
        is_domain=data["is_domain"],
        active=True,
        expires_at__isnull=True,  # a temporary suppression is replaced by the staff entry
    ).exists()
    entry = dns_add(
        channel=data["channel"],
        address=data["address"],
        is_domain=data["is_domain"],
        reason=DnsReason.STAFF,
        user=request.user,
        note=data["note"],
    )
    if existing:
        messages.info(request, f"{entry.display_address} is already on the Do-Not-Send list.")
    else:
        messages.success(
            request, f"{entry.display_address} added to the Do-Not-Send list ({entry.get_channel_display()})."
        )
    if not request.htmx:
        return redirect("bounces:dns-list")
    return render(request, f"{LIST_PAGE}#body", _list_context(request))


@login_required
@permission_required("bounces.change_donotsendentry", raise_exception=True)
@require_http_methods(["POST"])
def dns_remove_view(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(DoNotSendEntry, pk=pk)
    form = DnsRemoveForm(request.POST, prefix=f"remove-{pk}")
    if not form.is_valid():
        status = 200 if request.htmx else 422
        context = _list_context(request, remove_form=form, remove_entry=pk)
        return render(request, _template(request, LIST_PAGE, "body"), context, status=status)
    try:
        dns_remove(entry=entry, user=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as exc:  # pragma: no cover - the form already requires a reason
        form.add_error("reason", exc)
        return render(
            request, _template(request, LIST_PAGE, "body"), _list_context(request, remove_form=form, remove_entry=pk)
        )
    messages.success(request, f"{entry.display_address} removed from the Do-Not-Send list.")
    if not request.htmx:
        return redirect("bounces:dns-list")
    return render(request, f"{LIST_PAGE}#body", _list_context(request))


# --- Failure summary -----------------------------------------------------------------------------


@dataclass
class SummaryCell:
    count: int
    link: str


@dataclass
class SummaryRow:
    category: str
    hard: bool
    explanation: str
    cells: list[SummaryCell] = field(default_factory=list)
    total: int = 0
    total_link: str = ""


@dataclass
class SummaryTotal:
    key: str
    label: str
    counts: list[int]
    total: int


def _period(form: PeriodForm, today: date) -> tuple[date, date]:
    first = today.replace(day=1)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    start = data.get("start") or first
    end = data.get("end") or today
    return (start, end) if end >= start else (first, today)


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def failure_counts(*, start: date, end: date, channel: str = "") -> dict[tuple[str, str], int]:
    """Failed (and suppressed) deliveries per (category, channel) finished in [start, end]."""
    from messaging.models import Delivery

    lo, hi = _aware(start), _aware(end + timedelta(days=1))
    in_period = Q(finished_at__gte=lo, finished_at__lt=hi) | Q(
        finished_at__isnull=True, created_at__gte=lo, created_at__lt=hi
    )
    rows = Delivery.objects.filter(status__in=["failed", "suppressed"]).exclude(bounce_category="").filter(in_period)
    if channel:
        rows = rows.filter(channel=channel)
    counts = rows.values("bounce_category", "channel").annotate(n=Count("id"))
    return {(r["bounce_category"], r["channel"]): r["n"] for r in counts}


def history_link(*, category: str, channel: str = "", start: date, end: date) -> str:
    """A link to History filtered like a summary cell (parameters agreed with History)."""
    params = {
        "status": "" if category in ("DNS", "Domain DNS") else "failed",  # DNS: suppressed or failed
        "category": category,
        "channel": channel,
        "date_from": start.isoformat(),
        "date_to": end.isoformat(),
    }
    return f"{reverse('messaging:history')}?{urlencode({k: v for k, v in params.items() if v})}"


def summary_rows(*, start: date, end: date, channels: list[str]) -> list[SummaryRow]:
    from bounces.classify import CATEGORIES

    counts = failure_counts(start=start, end=end, channel=channels[0] if len(channels) == 1 else "")
    known = [(str(c), c.hard, c.explanation) for c in CATEGORIES]
    unknown = sorted({cat for cat, _ in counts} - {name for name, _, _ in known})
    rows: list[SummaryRow] = []
    for name, hard, explanation in known + [(c, False, "") for c in unknown]:
        row = SummaryRow(category=name, hard=hard, explanation=explanation)
        for ch in channels:
            link = history_link(category=name, channel=ch, start=start, end=end)
            row.cells.append(SummaryCell(count=counts.get((name, ch), 0), link=link))
        row.total = sum(c.count for c in row.cells)
        only = channels[0] if len(channels) == 1 else ""
        row.total_link = history_link(category=name, channel=only, start=start, end=end)
        rows.append(row)
    return rows


def summary_footer(rows: list[SummaryRow], channels: list[str]) -> list[SummaryTotal]:
    footer = []
    for key, label, wanted in (("hard", "Hard", {True}), ("soft", "Soft", {False}), ("all", "All", {True, False})):
        picked = [r for r in rows if r.hard in wanted]
        counts = [sum(r.cells[i].count for r in picked) for i in range(len(channels))]
        footer.append(SummaryTotal(key=key, label=label, counts=counts, total=sum(counts)))
    return footer


@login_required
@permission_required("messaging.view_history", raise_exception=True)
def summary(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.GET or None)
    today = timezone.localtime(clock.now()).date()
    start, end = _period(form, today)
    channel = form.cleaned_data.get("channel", "") if form.is_bound and form.is_valid() else ""
    channels = [channel] if channel else list(DnsChannel.values)
    rows = summary_rows(start=start, end=end, channels=channels)
    footer = summary_footer(rows, channels)
    totals = {t.key: t.total for t in footer}
    this_month = start == today.replace(day=1) and end == today
    context = {
        "form": form if form.is_bound else PeriodForm(initial={"start": start, "end": end}),
        "rows": rows,
        "footer": footer,
        "totals": totals,
        "channels": [(c, DnsChannel(c).label) for c in channels],
        "period_label": "this month" if this_month else f"from {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        "top": sorted((r for r in rows if r.total), key=lambda r: -r.total)[:3],
    }
    return render(request, _template(request, "bounces/summary.html", "table"), context)


# --- One-click unsubscribe (public) ------------------------------------------------------------


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without our CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    delivery = delivery_for_unsubscribe_token(token)
    if delivery is None:
        raise Http404("Unknown unsubscribe link")
    if request.method == "POST":
        unsubscribe_delivery(delivery=delivery, evidence=_evidence(request))
        return render(request, "bounces/unsubscribe.html", _unsubscribe_context(delivery, done=True, token=token))
    already = address_suppression("email", delivery.address) is not None
    return render(request, "bounces/unsubscribe.html", _unsubscribe_context(delivery, done=already, token=token))


def _evidence(request: HttpRequest) -> str:
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    return "List-Unsubscribe one-click POST" if one_click else "Unsubscribe page"


def _unsubscribe_context(delivery: Any, *, done: bool, token: str) -> dict[str, Any]:
    from django.conf import settings

    return {"done": done, "address": delivery.address, "token": token, "practice_phone": settings.PRACTICE_PHONE}
