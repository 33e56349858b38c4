"""Clients > Client Management: the searchable list and the chart's Contacts tab (htmx)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods

from clients.forms import ContactInfoForm, MessagingContactForm, MessagingProfileForm
from clients.models import Client, MessagingContact, MessagingProfile
from clients.selectors import client_list, contact_changes, messaging_contact_warning
from clients.services import client_contact_update, messaging_contact_update, messaging_profile_update
from clients.signals import chart_warnings
from core.access import access_log, filter_summary, logs_access
from core.models import AccessKind


def _template(request: HttpRequest, page: str, partial: str) -> str:
    """One view renders the page, or only its partial for an htmx request."""
    return f"{page}#{partial}" if getattr(request, "htmx", False) else page


@login_required
@permission_required("clients.view_client", raise_exception=True)
def client_management(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").replace("\x00", "")  # PostgreSQL refuses a NUL in a query's text: a 500
    page = Paginator(client_list(query=query), 25).get_page(request.GET.get("page"))
    summary = filter_summary({"search": query.strip(), "page": page.number}, private=["search"])
    access_log(request, kind=AccessKind.CLIENT_LIST, summary=summary, rows=len(page.object_list))
    return render(
        request,
        _template(request, "clients/client_list.html", "results"),
        {"page": page, "query": query},
    )


def _chart_context(client: Client, **forms: object) -> dict[str, object]:
    profile, _ = MessagingProfile.objects.get_or_create(client=client)
    alternate = MessagingContact.objects.filter(client=client).first()
    context: dict[str, object] = {
        "client": client,
        "profile": profile,
        "alternate": alternate,
        "info_form": ContactInfoForm(instance=client),
        "profile_form": MessagingProfileForm(instance=profile),
        "contact_form": MessagingContactForm(instance=alternate),
        "changes": contact_changes(client),
        "contact_warning": messaging_contact_warning(profile, alternate),
        "dns_warnings": _dns_warnings(client),
        "tab": "contacts",
    }
    context.update(forms)
    return context


def _dns_warnings(client: Client) -> list[object]:
    return [warning for _, answer in chart_warnings.send(sender=Client, client=client) for warning in answer]


@login_required
@permission_required("clients.view_client", raise_exception=True)
@logs_access(AccessKind.CLIENT_CHART, client=True)
def client_chart(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    tab = "basic" if request.GET.get("tab") == "basic" else "contacts"
    return render(request, "clients/chart.html", _chart_context(client, tab=tab))


@login_required
@permission_required("clients.change_messagingprofile", raise_exception=True)
@require_http_methods(["POST"])
@logs_access(AccessKind.CLIENT_CHART, client=True)
def messaging_profile_edit(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    profile, _ = MessagingProfile.objects.get_or_create(client=client)
    form = MessagingProfileForm(request.POST, instance=MessagingProfile.objects.get(pk=profile.pk))
    status = 200
    if form.is_valid():
        messaging_profile_update(client=client, changes=form.cleaned_data, user=request.user)
        messages.success(request, "Client Automated Messaging Contact saved.")
        context = _chart_context(client)
    else:
        status = 422 if not request.htmx else 200
        context = _chart_context(client, profile_form=form)
    return render(request, _template(request, "clients/chart.html", "messaging-profile"), context, status=status)


@login_required
@permission_required("clients.change_client", raise_exception=True)
@require_http_methods(["POST"])
@logs_access(AccessKind.CLIENT_CHART, client=True)
def contact_info_edit(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    form = ContactInfoForm(request.POST, instance=client)
    if form.is_valid():
        client_contact_update(client=client, data=form.cleaned_data, user=request.user)
        messages.success(request, "Contact information saved.")
        context = _chart_context(client)
    else:
        context = _chart_context(Client.objects.get(pk=pk), info_form=form)
    context["tab"] = "basic"
    return render(request, _template(request, "clients/chart.html", "contact-info"), context)


@login_required
@permission_required("clients.change_messagingprofile", raise_exception=True)
@require_http_methods(["GET", "POST"])
@logs_access(AccessKind.CLIENT_CHART, client=True)
def messaging_contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The Messaging Contact button: the alternate contact used when Use Client Detail Info. is No."""
    client = get_object_or_404(Client, pk=pk)
    alternate = MessagingContact.objects.filter(client=client).first()
    context = _chart_context(client)
    if request.method == "POST":
        form = MessagingContactForm(request.POST, instance=alternate)
        if form.is_valid():
            messaging_contact_update(client=client, data=form.cleaned_data, user=request.user)
            messages.success(request, "Messaging Contact saved.")
            context = _chart_context(client)
        else:
            context["contact_form"] = form
            context["contact_open"] = True
    else:
        context["contact_open"] = True
    return render(request, _template(request, "clients/chart.html", "messaging-contact"), context)
