"""``{% load phones %}``: ``{{ number|phone }}``, the one display format of a phone number (core.phones)."""

from __future__ import annotations

from django import template

from core.phones import display_phone

register = template.Library()


@register.filter
def phone(value: object) -> str:
    """An E.164 number as staff read it: national format in the clinic's country, international otherwise."""
    return display_phone(value)
