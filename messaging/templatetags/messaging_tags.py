"""Small display filters for the messaging screens."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from core.phones import display_phone
from messaging.channels.registry import all_specs, spec_for

if TYPE_CHECKING:
    from collections.abc import Sequence

    from messaging.history import Cell, Column, Row

register = template.Library()


@register.filter
def phone(value: object) -> str:
    """An E.164 number in the national format of the clinic's country, international otherwise (core.phones:
    the one format of every screen)."""
    return display_phone(value)


@register.filter
def address(value: object, channel: str) -> str:
    """An address as staff read it: phone numbers formatted, e-mail addresses as they are."""
    try:
        is_phone = spec_for(channel).phone_address
    except LookupError:
        is_phone = True
    return phone(value) if is_phone else str(value or "")


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
