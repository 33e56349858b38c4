"""``{% provider_delays as delays %}``: the channels paused by a provider outage, for staff banners."""

from __future__ import annotations

from django import template

from messaging.dispatch.outages import Banner, banners

register = template.Library()


@register.simple_tag
def provider_delays() -> list[Banner]:
    return banners()
