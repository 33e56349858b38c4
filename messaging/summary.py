"""Utilities > Failure Summary: failed and suppressed deliveries by bounce category and channel.

Each cell links to History filtered the same way. The categories are the bounce taxonomy's
(``bounces.taxonomy``); the rows are deliveries, so the screen lives with messaging.

Two charts sit above the table (issue 15), fed by ``chart_data`` through ``json_script`` and drawn by
``static/js/failure_charts.js``: deliveries per day by outcome for each channel (one grouped query) and
failures by category over the period (the table's own grouped query: the same numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, Q
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from bounces.taxonomy import CATEGORIES
from core import clock
from messaging.channels.registry import all_specs
from messaging.channels.registry import label as channel_label
from messaging.explanations import Explanation, explain
from messaging.models import Channel, Delivery, Status


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(label="Channel", choices=[("", "All")] + list(Channel.choices), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start: date | None = data.get("start")
        end: date | None = data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        return data


@dataclass
class SummaryCell:
    count: int
    link: str
    explanation: str = ""  # the category's words on this cell's channel (its tooltip)


@dataclass(frozen=True)
class SummaryNote:
    """What a category that occurred means on one channel, and what to do (shown under the table)."""

    channel: str
    channel_label: str
    count: int
    explanation: Explanation


@dataclass
class SummaryRow:
    category: str
    hard: bool
    explanation: str
    cells: list[SummaryCell] = field(default_factory=list)
    total: int = 0
    total_link: str = ""
    notes: list[SummaryNote] = field(default_factory=list)


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


# A start before / an end after these bounds nothing: the midnight of 0001-01-01 (or the one after
# 9999-12-31) cannot be stored in UTC (issue 13: ?end=9999-12-31 was a 500).
EARLIEST_BOUND = date(1, 1, 3)
LATEST_BOUND = date(9999, 12, 29)


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _in_period(start: date, end: date) -> Q:
    """Finished in [start, end] (not finished yet: created then); an extreme date is no bound."""
    finished, created = Q(), Q()
    if start > EARLIEST_BOUND:
        finished &= Q(finished_at__gte=_aware(start))
        created &= Q(created_at__gte=_aware(start))
    if end < LATEST_BOUND:
        finished &= Q(finished_at__lt=_aware(end + timedelta(days=1)))
        created &= Q(created_at__lt=_aware(end + timedelta(days=1)))
    return (Q(finished_at__isnull=False) & finished) | (Q(finished_at__isnull=True) & created)


def failure_counts(*, start: date, end: date, channel: str = "") -> dict[tuple[str, str], int]:
    """Failed (and suppressed) deliveries per (category, channel) finished in [start, end]."""
    in_period = _in_period(start, end)
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
    counts = failure_counts(start=start, end=end, channel=channels[0] if len(channels) == 1 else "")
    only = channels[0] if len(channels) == 1 else ""
    known = [(str(c), c.hard) for c in CATEGORIES]
    unknown = sorted({cat for cat, _ in counts} - {name for name, _ in known})
    rows: list[SummaryRow] = []
    for name, hard in known + [(c, False) for c in unknown]:
        # The row's words: its one channel's when the summary shows one, else words for any channel.
        row = SummaryRow(category=name, hard=hard, explanation=explain(name, only).text)
        for ch in channels:
            link = history_link(category=name, channel=ch, start=start, end=end)
            words = explain(name, ch)
            count = counts.get((name, ch), 0)
            row.cells.append(SummaryCell(count=count, link=link, explanation=words.text))
            if count and words:
                row.notes.append(SummaryNote(ch, channel_label(ch), count, words))
        row.total = sum(c.count for c in row.cells)
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


# --- Charts ------------------------------------------------------------------------------------------------

# What happened to a delivery, as the daily chart groups it (its stacks, bottom up, and their colours:
# the screen's own text colours, each at least 4.5:1 on white).
OUTCOMES: tuple[tuple[str, str, str], ...] = (
    ("delivered", "Delivered", "#067647"),
    ("sent", "Sent (no receipt)", "#1a5fd0"),
    ("waiting", "Waiting or sending", "#6b4fa3"),
    ("failed", "Failed", "#b42318"),
    ("suppressed", "Suppressed", "#5b6b7c"),
    ("cancelled", "Cancelled", "#8a6100"),
)
OUTCOME_OF: dict[str, str] = {
    Status.DELIVERED: "delivered",
    Status.SENT: "sent",
    Status.SCHEDULED: "waiting",
    Status.QUEUED: "waiting",
    Status.SENDING: "waiting",
    Status.FAILED: "failed",
    Status.SUPPRESSED: "suppressed",
    Status.CANCELLED: "cancelled",
}
HARD_COLOUR, SOFT_COLOUR = "#b42318", "#9a4d00"
DAILY_UP_TO = 92  # a longer period is charted by month
MAX_EMPTY_BUCKETS = 120  # days or months without deliveries drawn as zero, up to this many buckets


def _buckets(start: date, end: date, monthly: bool, seen: set[date]) -> list[date]:
    """Every day (or first of a month) of [start, end] when there are few enough, else those with data."""
    if monthly:
        first, last = start.replace(day=1), end.replace(day=1)
        count = (last.year - first.year) * 12 + last.month - first.month + 1
        if count > MAX_EMPTY_BUCKETS:
            return sorted(seen)
        months, year, month = [], first.year, first.month
        for _ in range(count):
            months.append(date(year, month, 1))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def daily_outcomes(*, start: date, end: date, channels: list[str]) -> dict[str, Any]:
    """Deliveries of each channel per day (per month over a long period) and outcome, in one grouped query.

    A delivery counts on the clinic-time day it finished (not finished yet: the day it was created), the
    period rule of the table. Returns ``{"unit", "labels", "series": {channel: {outcome: [n per label]}}}``.
    """
    monthly = (end - start).days >= DAILY_UP_TO
    zone = timezone.get_current_timezone()
    when = Coalesce("finished_at", "created_at")
    bucket = TruncMonth(when, tzinfo=zone) if monthly else TruncDate(when, tzinfo=zone)
    rows = Delivery.objects.filter(_in_period(start, end))
    if len(channels) == 1:
        rows = rows.filter(channel=channels[0])
    grouped = rows.annotate(bucket=bucket).values("bucket", "channel", "status").annotate(n=Count("id"))
    counts: dict[tuple[date, str, str], int] = {}
    for r in grouped:
        day = r["bucket"].date() if isinstance(r["bucket"], datetime) else r["bucket"]
        key = (day, r["channel"], OUTCOME_OF.get(r["status"], "waiting"))
        counts[key] = counts.get(key, 0) + r["n"]
    days = _buckets(start, end, monthly, {day for day, _, _ in counts})
    fmt = "%Y-%m" if monthly else "%Y-%m-%d"
    series = {ch: {key: [counts.get((day, ch, key), 0) for day in days] for key, _, _ in OUTCOMES} for ch in channels}
    return {"unit": "month" if monthly else "day", "labels": [f"{day:{fmt}}" for day in days], "series": series}


def chart_data(*, start: date, end: date, channels: list[str], rows: list[SummaryRow]) -> dict[str, Any]:
    """What the two charts draw (``json_script``): per-channel outcomes by day, and failures by category
    (the table's rows: a chart never disagrees with the table under it)."""
    daily = daily_outcomes(start=start, end=end, channels=channels)
    failing = [r for r in rows if r.total]
    return {
        "unit": daily["unit"],
        "labels": daily["labels"],
        "outcomes": [{"key": key, "label": label, "colour": colour} for key, label, colour in OUTCOMES],
        "channels": [
            {
                "key": ch,
                "label": channel_label(ch),
                "counts": daily["series"][ch],
                "totals": {key: sum(daily["series"][ch][key]) for key, _, _ in OUTCOMES},
            }
            for ch in channels
        ],
        "categories": [
            {
                "category": r.category,
                "hard": r.hard,
                "total": r.total,
                "colour": HARD_COLOUR if r.hard else SOFT_COLOUR,
            }
            for r in failing
        ],
    }


@dataclass(frozen=True)
class ChartTable:
    """One chart's text alternative: its summary (the canvas's aria-label) and its numbers as a table."""

    key: str
    label: str
    total: int
    summary: str
    rows: list[tuple[str, list[int]]]  # (day or month, a count per outcome): those with any delivery


def chart_tables(charts: dict[str, Any], period_label: str) -> tuple[list[ChartTable], str]:
    """The text alternatives of ``chart_data``'s charts: one table per channel, and the category chart's words."""
    outcomes = charts["outcomes"]
    tables = []
    for ch in charts["channels"]:
        columns = [ch["counts"][o["key"]] for o in outcomes]
        rows = [(label, list(ns)) for label, *ns in zip(charts["labels"], *columns, strict=True) if any(ns)]
        total = sum(ch["totals"].values())
        parts = ", ".join(f"{ch['totals'][o['key']]} {o['label'].lower()}" for o in outcomes if ch["totals"][o["key"]])
        words = f"{ch['label']}: {total} deliver{'y' if total == 1 else 'ies'} {period_label}" + (
            f": {parts}" if parts else ""
        )
        tables.append(ChartTable(ch["key"], ch["label"], total, words + ".", rows))
    by_category = "; ".join(
        f"{c['category']} {c['total']} ({'hard' if c['hard'] else 'soft'})" for c in charts["categories"]
    )
    category_words = f"Failures by category {period_label}: {by_category}." if by_category else ""
    return tables, category_words


@login_required
@permission_required("messaging.view_history", raise_exception=True)
def summary(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.GET or None)
    today = timezone.localtime(clock.now()).date()
    start, end = _period(form, today)
    channel = form.cleaned_data.get("channel", "") if form.is_bound and form.is_valid() else ""
    channels = [channel] if channel else [spec.kind for spec in sorted(all_specs(), key=lambda s: s.portal_rank)]
    rows = summary_rows(start=start, end=end, channels=channels)
    footer = summary_footer(rows, channels)
    totals = {t.key: t.total for t in footer}
    this_month = start == today.replace(day=1) and end == today
    context = {
        "form": form if form.is_bound else PeriodForm(initial={"start": start, "end": end}),
        "rows": rows,
        "footer": footer,
        "totals": totals,
        "channels": [(c, Channel(c).label) for c in channels],
        "period_label": "this month" if this_month else f"from {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        "top": sorted((r for r in rows if r.total), key=lambda r: -r.total)[:3],
    }
    context["charts"] = chart_data(start=start, end=end, channels=channels, rows=rows)
    context["chart_tables"], context["category_chart_words"] = chart_tables(context["charts"], context["period_label"])
    template = "messaging/failure_summary.html#table" if request.htmx else "messaging/failure_summary.html"
    return render(request, template, context)
