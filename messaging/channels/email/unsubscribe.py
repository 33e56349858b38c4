"""The public one-click unsubscribe page (RFC 8058) every e-mail links to.

``List-Unsubscribe`` (built by :mod:`messaging.channels.email.transport`) points here with the
delivery's unguessable token. A GET shows a confirmation page and changes nothing (link scanners
fetch links); a POST — the page's button, or a mail client's ``List-Unsubscribe=One-Click`` —
puts the address on the e-mail Do-Not-Send list. No login and no CSRF token: mail clients post
without one. Unknown tokens, and tokens of deliveries on other channels, are 404.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from bounces.models import DnsReason
from bounces.services import DNS_CATEGORY, address_suppression, dns_add
from messaging.channels.webhook_support import delivery_for_token
from messaging.models import Delivery

TEMPLATE = "messaging/email_unsubscribe.html"


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without our CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    delivery = delivery_for_token(token, "email")
    if delivery is None:
        raise Http404("Unknown unsubscribe link")
    if request.method == "POST":
        dns_add(
            channel="email",
            address=delivery.address,
            reason=DnsReason.UNSUBSCRIBE,
            category=DNS_CATEGORY,
            source_delivery=delivery,
            note=_evidence(request),
        )
        return render(request, TEMPLATE, _unsubscribe_context(delivery, done=True, token=token))
    already = address_suppression("email", delivery.address) is not None
    return render(request, TEMPLATE, _unsubscribe_context(delivery, done=already, token=token))


def _evidence(request: HttpRequest) -> str:
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    return "List-Unsubscribe one-click POST" if one_click else "Unsubscribe page"


def _unsubscribe_context(delivery: Delivery, *, done: bool, token: str) -> dict[str, Any]:
    return {"done": done, "address": delivery.address, "token": token, "practice_phone": settings.PRACTICE_PHONE}
