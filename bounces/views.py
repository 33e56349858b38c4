"""Screen: Utilities > Do-Not-Send List (search, add, remove with a reason)."""

from __future__ import annotations

import contextlib
import re
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from bounces.conf import pause_policy
from bounces.forms import DnsAddForm, DnsFilterForm, DnsRemoveForm
from bounces.models import DnsReason, DoNotSendEntry
from bounces.services import dns_add, dns_remove, normalise_phone
from core import clock
from core.access import access_log, filter_summary
from core.models import AccessKind

LIST_PAGE = "bounces/dns_list.html"


def _template(request: HttpRequest, page: str, partial: str) -> str:
    """One view renders the page, or only its partial for an htmx request."""
    return f"{page}#{partial}" if getattr(request, "htmx", False) else page


# --- Do-Not-Send list ---------------------------------------------------------------------------


def dns_entries(*, q: str = "", channel: str = "", reason: str = "", show_removed: bool = False) -> QuerySet:
    entries = DoNotSendEntry.objects.select_related("source_delivery", "created_by", "removed_by")
    if not show_removed:
        now = clock.now()
        entries = entries.filter(active=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    if q:
        entries = entries.filter(_search(q.strip()))
    if channel:
        entries = entries.filter(channel=channel)
    if reason:
        entries = entries.filter(reason=reason)
    return entries


_PHONE_TYPED = re.compile(r"\+?[\d\s().\-]+")


def _search(text: str) -> Q:
    """An address or note containing the text; a number as the list shows it, "(617) 555-0123", or
    any part of one, "555-0123", also finds its stored E.164 form (+16175550123)."""
    match = Q(address__icontains=text.lstrip("@")) | Q(note__icontains=text)
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3 and _PHONE_TYPED.fullmatch(text):
        match |= Q(address__contains=digits)
        with contextlib.suppress(ValidationError):
            match |= Q(address=normalise_phone(text))
    return match


def _filters(request: HttpRequest) -> DnsFilterForm:
    data = request.POST if request.method == "POST" else request.GET
    form = DnsFilterForm({k: data.get(k, "") for k in ("q", "channel", "reason", "show_removed") if k in data})
    form.is_valid()
    return form


def _list_context(
    request: HttpRequest,
    *,
    add_form: DnsAddForm | None = None,
    remove_form: DnsRemoveForm | None = None,
    remove_entry: int | None = None,
) -> dict[str, Any]:
    filters = _filters(request)
    data = filters.cleaned_data if filters.is_bound else {}
    page = Paginator(
        dns_entries(
            q=data.get("q", ""),
            channel=data.get("channel", ""),
            reason=data.get("reason", ""),
            show_removed=bool(data.get("show_removed")),
        ),
        50,
    ).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in data.items() if v and k != "show_removed"})
    if data.get("show_removed"):
        query = f"{query}&show_removed=on" if query else "show_removed=on"
    _log_list(request, data, page)
    return {
        "filters": filters,
        "page": page,
        "query": query,
        "now": clock.now(),
        "pause_policy": pause_policy(),
        "add_form": add_form or DnsAddForm(prefix="add"),
        "remove_form": remove_form,
        "remove_entry": remove_entry,
    }


def _log_list(request: HttpRequest, data: dict[str, Any], page: Any) -> None:
    """Every page showing the list (also re-drawn after adding or removing) shows clients' addresses:
    who saw which filtered page, the search only as ``search=(given)``."""
    values = {
        "search": data.get("q", ""),
        "channel": data.get("channel", ""),
        "reason": data.get("reason", ""),
        "show_removed": bool(data.get("show_removed")),
        "page": page.number if page.number > 1 else "",
    }
    summary = filter_summary(values, private=["search"])
    access_log(request, kind=AccessKind.DO_NOT_SEND_LIST, summary=summary, rows=len(page.object_list))


@login_required
@permission_required("bounces.view_donotsendentry", raise_exception=True)
def dns_list(request: HttpRequest) -> HttpResponse:
    return render(request, _template(request, LIST_PAGE, "results"), _list_context(request))


@login_required
@permission_required("bounces.add_donotsendentry", raise_exception=True)
@require_http_methods(["POST"])
def dns_add_view(request: HttpRequest) -> HttpResponse:
    form = DnsAddForm(request.POST, prefix="add")
    if not form.is_valid():
        status = 200 if request.htmx else 422
        return render(
            request, _template(request, LIST_PAGE, "body"), _list_context(request, add_form=form), status=status
        )
    data = form.cleaned_data
    existing = DoNotSendEntry.objects.filter(
        channel=data["channel"],
        address=data["address"],
        is_domain=data["is_domain"],
        active=True,
        expires_at__isnull=True,  # a temporary suppression is replaced by the staff entry
    ).exists()
    entry = dns_add(
        channel=data["channel"],
        address=data["address"],
        is_domain=data["is_domain"],
        reason=DnsReason.STAFF,
        user=request.user,
        note=data["note"],
    )
    if existing:
        messages.info(request, f"{entry.display_address} is already on the Do-Not-Send list.")
    else:
        messages.success(
            request, f"{entry.display_address} added to the Do-Not-Send list ({entry.get_channel_display()})."
        )
    if not request.htmx:
        return redirect("bounces:dns-list")
    return render(request, f"{LIST_PAGE}#body", _list_context(request))


@login_required
@permission_required("bounces.change_donotsendentry", raise_exception=True)
@require_http_methods(["POST"])
def dns_remove_view(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(DoNotSendEntry, pk=pk)
    form = DnsRemoveForm(request.POST, prefix=f"remove-{pk}")
    if not form.is_valid():
        status = 200 if request.htmx else 422
        context = _list_context(request, remove_form=form, remove_entry=pk)
        return render(request, _template(request, LIST_PAGE, "body"), context, status=status)
    try:
        dns_remove(entry=entry, user=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as exc:  # pragma: no cover - the form already requires a reason
        form.add_error("reason", exc)
        return render(
            request, _template(request, LIST_PAGE, "body"), _list_context(request, remove_form=form, remove_entry=pk)
        )
    messages.success(request, f"{entry.display_address} removed from the Do-Not-Send list.")
    if not request.htmx:
        return redirect("bounces:dns-list")
    return render(request, f"{LIST_PAGE}#body", _list_context(request))
