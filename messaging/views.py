"""Utilities > Messaging screens (the New tab and History land with their issue)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
@permission_required("messaging.send_messages", raise_exception=True)
def new_message(request: HttpRequest) -> HttpResponse:
    return render(request, "messaging/placeholder.html", {"title": "Messaging"})


@login_required
@permission_required("messaging.view_history", raise_exception=True)
def history(request: HttpRequest) -> HttpResponse:
    return render(request, "messaging/placeholder.html", {"title": "History"})


@login_required
@permission_required("clients.view_appointment", raise_exception=True)
def appointments(request: HttpRequest) -> HttpResponse:
    return render(request, "messaging/placeholder.html", {"title": "Scheduled Appointments"})


@login_required
def simulators(request: HttpRequest) -> HttpResponse:
    return render(request, "messaging/placeholder.html", {"title": "Provider Simulators"})
