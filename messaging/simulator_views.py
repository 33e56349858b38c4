"""The demo's "Provider Simulators" page: what the local Twilio, fax and SMTP simulators received.

Each simulator answers ``GET <control url>/_sim/received`` with JSON records; the page shows the
newest first and refreshes itself with htmx. Credentials embedded in callback URLs are masked. The page
exists only in demo mode and only staff (``is_staff``) may open it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

LABELS = {"twilio": "Twilio (SMS and calls)", "fax": "Fax API", "smtp": "SMTP (e-mail)"}
MAX_ROWS = 50
TIMEOUT_SECONDS = 2.0
_USERINFO = re.compile(r"(//)[^/@\s]+@")


@dataclass
class SimulatorView:
    key: str
    label: str
    url: str
    error: str = ""
    total: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


def mask(text: Any) -> str:
    return _USERINFO.sub(r"\1***@", str(text or ""))


def _row(record: dict[str, Any]) -> dict[str, Any]:
    kind = record.get("kind", "")
    callbacks = record.get("callbacks") or []
    if kind == "email":
        what = record.get("subject", "")
        to = ", ".join(record.get("rcpt_tos") or []) or record.get("to", "")
    elif kind == "rcpt_refused":
        what, to = record.get("reply", ""), record.get("rcpt", "")
    elif kind == "fax":
        what, to = f"{record.get('pages', '?')} page(s)", record.get("to", "")
    elif kind == "call":
        outcome = record.get("outcome") or {}
        what = f"{outcome.get('status', '')} {outcome.get('answered_by') or ''}".strip()
        to = record.get("to", "")
    else:
        what, to = record.get("body") or "", record.get("to", "")
    statuses = [str(cb.get("status") or cb.get("event") or "") for cb in callbacks]
    return {
        "time": record.get("time", ""),
        "kind": kind,
        "to": to,
        "what": mask(what)[:200],
        "status": record.get("status") or ("refused" if record.get("accepted") is False else ""),
        "error": record.get("error_code") or "",
        "callbacks": ", ".join(s for s in statuses if s),
        "callback_codes": ", ".join(str(cb.get("http_status") or cb.get("error") or "?") for cb in callbacks),
    }


def fetch(key: str, url: str) -> SimulatorView:
    view = SimulatorView(key=key, label=LABELS.get(key, key), url=url)
    if not url:
        view.error = "Not configured (set SIM_TWILIO_URL, SIM_FAX_URL, SIM_SMTP_CONTROL_URL; make demo does)."
        return view
    try:
        response = requests.get(f"{url.rstrip('/')}/_sim/received", timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        records = response.json()
    except (requests.RequestException, ValueError) as exc:
        view.error = f"Not reachable: {type(exc).__name__}"
        return view
    if not isinstance(records, list):
        view.error = "Unexpected answer"
        return view
    view.total = len(records)
    view.rows = [_row(r) for r in reversed(records[-MAX_ROWS:]) if isinstance(r, dict)]
    return view


def _demo_staff_only(request: HttpRequest) -> None:
    if not settings.DEMO_MODE:
        raise Http404("The provider simulators exist only in demo mode.")
    if not request.user.is_staff:
        raise PermissionDenied("The provider simulators page is for staff administrators.")


# A Twilio outage to try the product's handling (README › Failure handling): errors, then no answers.
OUTAGE = {"fail_seconds": 60, "hang_seconds": 30, "hang_for": 20}


@login_required
@require_POST
def simulator_outage(request: HttpRequest) -> HttpResponse:
    """Demo only, staff only: the Twilio simulator answers 503 for a minute, then hangs for 30 s."""
    _demo_staff_only(request)
    url = settings.SIMULATOR_CONTROL_URLS.get("twilio", "")
    try:
        if not url:
            raise requests.ConnectionError("SIM_TWILIO_URL is not set")
        answer = requests.post(f"{url.rstrip('/')}/_sim/outcomes", json={"outage": OUTAGE}, timeout=TIMEOUT_SECONDS)
        answer.raise_for_status()
    except requests.RequestException as exc:
        messages.error(request, f"The Twilio simulator did not answer ({type(exc).__name__}).")
    else:
        messages.success(
            request,
            "The Twilio simulator now fails for 60 s, then stops answering for 30 s. Send a text or call "
            "to see the delay on the New tab and History.",
        )
    return redirect("messaging:simulators")


@login_required
def simulators(request: HttpRequest) -> HttpResponse:
    """Demo only (404 otherwise), staff only: it shows what the simulators were sent, PHI included."""
    _demo_staff_only(request)
    views = [fetch(key, url) for key, url in settings.SIMULATOR_CONTROL_URLS.items()]
    template = "messaging/simulators.html#received" if getattr(request, "htmx", False) else "messaging/simulators.html"
    return render(request, template, {"simulators": views, "max_rows": MAX_ROWS})
