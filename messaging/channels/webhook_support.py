"""Shared pieces of provider webhook views: finding the delivery by token, answering quickly."""

from __future__ import annotations

from django.http import HttpResponse

from messaging.models import Delivery


def delivery_for_token(token: str, channel: str) -> Delivery | None:
    """The delivery whose callback URL carries ``token`` (None for an unknown token)."""
    if not token or len(token) > 64:
        return None
    return Delivery.objects.filter(token=token, channel=channel).first()


def ok() -> HttpResponse:
    """Empty 200: accepted (also for unknown tokens and duplicates, so providers do not retry)."""
    return HttpResponse("", content_type="text/plain")


def form_payload(post: object) -> dict[str, str]:
    """A POSTed form as a plain dict for ProviderEvent.payload (first value of each field)."""
    return {key: value for key, value in post.items()}  # type: ignore[attr-defined]
