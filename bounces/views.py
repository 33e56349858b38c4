from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bounces.selectors import active_entries


@login_required
@permission_required("bounces.view_donotsendentry", raise_exception=True)
def dns_list(request: HttpRequest) -> HttpResponse:
    return render(request, "bounces/dns_list.html", {"entries": active_entries()[:200]})


@login_required
@permission_required("messaging.view_history", raise_exception=True)
def summary(request: HttpRequest) -> HttpResponse:
    return render(request, "bounces/summary.html", {})
