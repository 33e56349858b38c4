"""URLs of ``bench_callbacks.py``'s web server: the product's, plus the bare baseline view."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from pimsy_messaging.urls import urlpatterns as product_urlpatterns


@csrf_exempt
@require_POST
def bare_status(request: HttpRequest, token: str) -> HttpResponse:
    """The floor: check X-Twilio-Signature over the public URL and the form, answer 200."""
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    if not validator.validate(url, request.POST, request.headers.get("X-Twilio-Signature", "")):
        return HttpResponseForbidden("Invalid Twilio signature", content_type="text/plain")
    return HttpResponse("", content_type="text/plain")


urlpatterns = [
    path("bench/bare/<str:token>/status", bare_status, name="bench-bare-status"),
    *product_urlpatterns,
]
