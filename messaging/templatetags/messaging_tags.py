"""Small display filters for the messaging screens."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import phonenumbers
from django import template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from messaging.rendering import format_phone

if TYPE_CHECKING:
    from messaging.history import Cell, Column

register = template.Library()


@register.filter
def phone(value: object) -> str:
    """An E.164 number in the national format of the default region, international otherwise."""
    text = str(value or "")
    if not text.startswith("+"):
        return text
    if settings.PHONENUMBER_DEFAULT_REGION == "US" and text.startswith("+1") and len(text) == 12:
        return format_phone(text)  # North American numbers, the common case of long lists: no parsing
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return text
    region = phonenumbers.region_code_for_number(number)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if region == settings.PHONENUMBER_DEFAULT_REGION
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


@register.filter
def address(value: object, channel: str) -> str:
    """An address as staff read it: phone numbers formatted, e-mail addresses as they are."""
    return str(value or "") if channel == "email" else phone(value)


@register.filter
def pretty_json(value: object) -> str:
    """A provider payload as indented JSON (escaped by the template like any text)."""
    import json

    try:
        return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


@register.simple_tag
def history_cells(cells: list[tuple[Column, Cell]]) -> SafeString:
    """The ``<td>`` cells of one History row (hot path: 50 rows × up to 25 columns per page).

    Built with plain string joins and ``html.escape`` on every value rather than nested template
    tags or ``format_html``: the History page budget is a few milliseconds.
    """
    parts = []
    for column, cell in cells:
        classes = f"c-{column.key}"
        if column.wrap:
            classes += " wrap"
        if column.numeric:
            classes += " num"
        if cell.title and not cell.css:
            classes += " has-tip"
        text = escape(cell.text)
        if cell.href:
            inner = f'<a href="{escape(cell.href)}">{text}</a>'
        elif cell.css:
            inner = f'<span class="{escape(cell.css)}">{text}</span>'
        else:
            inner = text
        title = f' title="{escape(cell.title)}"' if cell.title else ""
        parts.append(f'<td class="{escape(classes)}"{title}>{inner}</td>')
    return mark_safe("".join(parts))  # noqa: S308  every value above is escaped
