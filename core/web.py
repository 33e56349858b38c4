"""Request helpers every layer may use."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: behind ``TRUSTED_PROXY_HOPS`` reverse proxies, the one the outermost of them
    added to ``X-Forwarded-For`` (entries further left are the client's word and could be forged).

    The one rule for login throttling (``AXES_CLIENT_IP_CALLABLE``) and the PHI access log."""
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_HOPS
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    if hops <= 0 or len(forwarded) < hops:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
