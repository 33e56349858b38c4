"""Small display filters for the messaging screens."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

from core.phones import display_phone
from messaging.channels.registry import all_specs, spec_for

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from messaging.history import Cell, Column, Row
    from messaging.recipients import ExcludedPerson, Recipient

register = template.Library()


@register.filter
def phone(value: object) -> str:
    """An E.164 number in the national format of the clinic's country, international otherwise (core.phones:
    the one format of every screen)."""
    return display_phone(value)


def _phone_channel(channel: str) -> bool:
    """Whether ``channel``'s addresses are phone numbers (an unknown channel's are taken to be)."""
    try:
        return spec_for(channel).phone_address
    except LookupError:
        return True


@register.filter
def address(value: object, channel: str) -> str:
    """An address as staff read it: phone numbers formatted, e-mail addresses as they are."""
    return phone(value) if _phone_channel(channel) else str(value or "")


@register.filter
def pretty_json(value: object) -> str:
    """A provider payload as indented JSON (escaped by the template like any text)."""
    import json

    try:
        return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


# A delivery id that cannot clash with the rest of the detail URL: the URL is reversed once per page.
_ID_MARK = 987654321987654321


def _detail_url_parts() -> tuple[str, str]:
    """The escaped text before and after the delivery id in the delivery-detail URL."""
    url = reverse("messaging:delivery-detail", args=[_ID_MARK])
    head, mark, tail = url.partition(str(_ID_MARK))
    if not mark or str(_ID_MARK) in tail:
        raise ImproperlyConfigured(f"the delivery-detail URL {url!r} must hold the delivery id once")
    return escape(head), escape(tail)


def _td_classes(column: Column) -> tuple[str, str]:
    """A column's escaped ``<td>`` classes: without and with the tooltip marker."""
    classes = f"c-{column.key}"
    if column.wrap:
        classes += " wrap"
    if column.numeric:
        classes += " num"
    return escape(classes), escape(classes + " has-tip")


class _Escaped(dict[str, str]):
    """``html.escape`` of each text, computed once: a page repeats most of its values (a broadcast's
    description, message type and sender, channel and status labels) across its rows."""

    def __missing__(self, text: str) -> str:
        self[text] = value = escape(text)
        return value


@register.simple_tag
def history_rows(rows: Sequence[tuple[Row, Sequence[Cell]]], columns: Sequence[Column]) -> SafeString:
    """The ``<tr>`` of a History page: one per delivery, its cells in the order of ``columns``, then the
    link to the delivery's detail (hot path: 50 rows × up to 25 columns per page).

    Built with plain string joins, ``html.escape`` on every value (once per distinct value) and the
    constant parts (classes, the detail URL) prepared once per page, rather than nested template loops
    and a ``{% url %}`` per row: the History page budget is a few milliseconds. The markup is what the
    template's loop wrote.
    """
    if not rows:
        return mark_safe("")  # noqa: S308  empty
    url_head, url_tail = _detail_url_parts()
    td_classes = [_td_classes(c) for c in columns]
    esc = _Escaped()
    parts = []
    for row, cells in rows:
        parts.append(f'\n      <tr data-delivery="{row["id"]}">\n        ')
        for (plain, tip), (text, css, title, href) in zip(td_classes, cells, strict=True):
            if href:
                inner = f'<a href="{esc[href]}">{esc[text]}</a>'
            elif css:
                inner = f'<span class="{esc[css]}">{esc[text]}</span>'
            else:
                inner = esc[text]
            if title:
                parts.append(f'<td class="{plain if css else tip}" title="{esc[title]}">{inner}</td>')
            else:
                parts.append(f'<td class="{plain}">{inner}</td>')
        parts.append(
            f'\n        <td class="fixed"><a href="{url_head}{row["id"]}{url_tail}" aria-label="Details of the message '
            f'to {esc[row.get("recipient_name") or ""]}" title="Attempts and provider callbacks">›</a></td>\n'
            "      </tr>\n    "
        )
    return mark_safe("".join(parts))  # noqa: S308  every value above is escaped


@register.simple_tag
def send_labels() -> dict[str, str]:
    """Each channel's Send button words ("Send Text Message"), for the New tab's script."""
    return {spec.kind: spec.send_label for spec in all_specs()}


# --- The New tab's recipient list (Refresh: up to 500 rows, or every row after "Show all") ----------

_DASH = "—"  # an empty cell, as the template's ``|default:"—"`` wrote it
_NO_TARGETS = f'<span class="hint">{_DASH}</span>'


class _Dates(dict[object, str]):
    """A ``|date:fmt`` of each value, escaped, computed once (appointments share their start times):
    the ``date`` filter itself, on the value in the current time zone, as the template applied it."""

    def __init__(self, fmt: str) -> None:
        super().__init__()
        self.fmt = fmt

    def __missing__(self, value: object) -> str:
        self[value] = text = escape(str(date_filter(template_localtime(value), self.fmt)))
        return text


def _number_text() -> Callable[[int], str]:
    """How the template writes an integer: ``str`` unless the locale groups digits (then ``localize``)."""
    return str if localize(1234567) == "1234567" else lambda n: str(localize(n))


@register.simple_tag
def recipient_rows(recipients: Sequence[Recipient]) -> SafeString:
    """The ``<tr>`` of the New tab's recipient table, one per recipient (hot path: 500 rows per Refresh,
    every row after "Show all").

    Written in one pass with plain string joins, every value through ``html.escape`` (each distinct
    value once), dates through the ``date`` filter once per distinct value, and the parts shared by
    the rows (a channel's label, an address source) prepared once, rather than a template loop with
    filters per cell: the markup is byte for byte what that loop wrote (checked by
    ``messaging/tests/test_recipient_list_html.py``).
    """
    if not recipients:
        return mark_safe("")  # noqa: S308  empty
    esc = _Escaped()
    born_text, when_text = _Dates("m/d/Y"), _Dates("D M j, g:i A")
    number = _number_text()
    channel_head: dict[str, tuple[str, bool]] = {}  # per channel: the target's opening markup, phone or not
    source_tail: dict[str, str] = {}
    parts = []
    for r in recipients:
        key, name = esc[r.key], esc[r.name]
        if r.born:
            born = f' <small class="hint born" title="Date of birth">DOB {born_text[r.born]}</small>'
        elif r.client_id:
            born = f' <small class="hint born">Chart #{esc[number(r.client_id)]}</small>'
        else:
            born = ""
        when = f'<td class="when">{when_text[r.when]}</td>' if r.when else ""
        targets = []
        for t in r.targets:
            channel, source = t.channel, t.source
            if channel not in channel_head:
                channel_head[channel] = (
                    f'<div class="target"><span class="ch ch-{esc[channel]}">{esc[t.channel_label]}</span> '
                    '<span class="addr">',
                    _phone_channel(channel),
                )
            if source not in source_tail:
                source_tail[source] = f'</span> <span class="src">{esc[t.source_label]}</span></div>'
            head, is_phone = channel_head[channel]
            shown = phone(t.address) if is_phone else str(t.address or "")
            targets.append(f"{head}{esc[shown]}{source_tail[source]}")
        parts.append(
            f'\n              <tr data-key="{key}" data-messages="{number(len(r.targets))}">\n'
            f'                <td class="tick"><input type="checkbox" class="recipient-tick" value="{key}" checked '
            f'aria-label="Send to {name}"></td>\n'
            f'                <td class="name">{name}{born}</td>\n'
            f"                {when}\n"
            f"                <td>{esc[r.preferred] if r.preferred else _DASH}</td>\n"
            f'                <td class="language">{esc[r.language_label] if r.language_label else _DASH}</td>\n'
            f'                <td class="targets">{"".join(targets) or _NO_TARGETS}</td>\n'
            "              </tr>\n            "
        )
    return mark_safe("".join(parts))  # noqa: S308  every value above is escaped


@register.simple_tag
def excluded_items(people: Sequence[ExcludedPerson]) -> SafeString:
    """The ``<li>`` of the New tab's Excluded list, one per person with each reason (up to 500 per
    Refresh); the markup is byte for byte what the template's loop wrote, every value escaped."""
    esc = _Escaped()
    channel_head: dict[str, str] = {}
    parts = []
    for p in people:
        reasons = []
        for e in p.reasons:
            channel = e.channel
            if channel and channel not in channel_head:
                channel_head[channel] = f'<span class="ch ch-{esc[channel]}">{esc[e.channel_label]}</span> '
            reasons.append(f'<span class="reason">{channel_head[channel] if channel else ""}{esc[e.reason]}</span>')
        partly = ' class="partly"' if p.partly else ""
        hint = '<span class="hint">Other methods still go out.</span>' if p.partly else ""
        parts.append(
            f'\n            <li data-key="{esc[p.key]}"{partly}>\n'
            f'              <span class="name">{esc[p.name]}</span>\n'
            f"              {''.join(reasons)}\n"
            f"              {hint}\n"
            "            </li>\n            "
        )
    return mark_safe("".join(parts))  # noqa: S308  every value above is escaped
