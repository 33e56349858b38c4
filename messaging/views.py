"""Utilities > Messaging: the New tab (compose, Refresh, Send, progress, Cancel) and the History tab.

Thin views: forms validate, ``messaging.recipients`` / ``messaging.history`` read,
``messaging.broadcasts`` writes. One template per page; htmx requests get its partials
(``"page.html#partial"``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clients.models import Appointment, Client
from core import clock
from core.access import access_log, filter_summary
from core.models import AccessKind
from messaging import history as hist
from messaging import one_off
from messaging.broadcasts import NothingToSend, broadcast_cancel, broadcast_create, broadcast_progress, may_cancel
from messaging.channels.registry import all_specs, spec_for
from messaging.content import said
from messaging.fallback import fallback_chain
from messaging.forms import HistoryFilterForm, NewMessageForm, new_idempotency_key, send_label
from messaging.languages import Variants, default_language, label_recipients, language_name, wanted_language
from messaging.models import Broadcast, Channel, MessageTemplate, MessageType, Selection
from messaging.recipients import RecipientList, recipients_for
from messaging.rendering import recipient_context, render_for, sample_context, unknown_placeholders

send_required = permission_required("messaging.send_messages", raise_exception=True)
history_required = permission_required("messaging.view_history", raise_exception=True)

NEW_PAGE = "messaging/new.html"
HISTORY_PAGE = "messaging/history.html"
# Rows shown on the page at once; everyone on the list receives the message whether shown or not.
DISPLAY_LIMIT = 500
# Before any Contact Method is chosen, the preview shows the first template of this order.
PREVIEW_ORDER = tuple(spec.kind for spec in sorted(all_specs(), key=lambda spec: spec.preview_rank))


def _page_or_partial(request: HttpRequest, page: str, partial: str) -> str:
    return f"{page}#{partial}" if request.htmx else page


# --- New tab: compose ----------------------------------------------------------------------------------


@login_required
def new_message(request: HttpRequest) -> HttpResponse:
    """The New tab (default screen of Utilities > Messaging)."""
    if not request.user.has_perm("messaging.send_messages"):
        if request.user.has_perm("messaging.view_history"):
            return redirect("messaging:history")
        raise PermissionDenied("You do not have permission to send messages.")
    form = NewMessageForm()
    context = {
        "form": form,
        **_contents_context(form, None),
        "send_label": send_label([]),
        "message_type_facts": _message_type_facts(),
    }
    return render(request, NEW_PAGE, context)


def _message_type_facts() -> dict[str, dict[str, Any]]:
    """Per message type, what the page needs to adapt its hints (Description required, dates used)."""
    return {
        str(t.pk): {
            "manual": t.is_manual,
            "dated": t.is_appointment_based or t.selection == Selection.RENEWALS,
            "audience": t.audience,
        }
        for t in MessageType.objects.filter(active=True)
    }


@login_required
@send_required
@require_http_methods(["GET", "POST"])
def template_preview(request: HttpRequest) -> HttpResponse:
    """The message contents for the chosen type and Contact Methods (Message Types / channel change);
    POST when the page carries texts edited for this send (too long for a URL)."""
    params = request.POST if request.method == "POST" else request.GET
    form = NewMessageForm(params)
    key = preview_key_from(request, params.get("preview_key", ""))
    context = {"form": form, **_contents_context(form, key), "preview_token": params.get("preview_key", "")}
    if context["previews"] and context["preview_for"] is not None:  # a real person's details, not a sample's
        _log_preview(request, key or "", context)
    return render(request, f"{NEW_PAGE}#contents-response", context)


def _log_preview(request: HttpRequest, key: str, context: dict[str, Any]) -> None:
    """A preview shows the recipient's name, appointment and links: whose (the key), with which type."""
    client = context["preview_for"].get("client")
    channels = ",".join(p["channel"] for p in context["previews"])
    summary = filter_summary({"message_type": context["message_type"].pk, "channels": channels})
    client_id = client.pk if client is not None else None
    access_log(request, kind=AccessKind.MESSAGE_PREVIEW, object_ids=[key], client_id=client_id, summary=summary, rows=1)


PREVIEW_SALT = "messaging.preview-recipient"
PREVIEW_MAX_AGE = 12 * 3600  # a working day: a New tab left open keeps its preview


def preview_token(request: HttpRequest, key: str) -> str:
    """The preview recipient as the page carries it: signed for this user, so a page can only ask
    for the recipients Refresh listed to them (issue 13: no reading any client through the preview)."""
    return signing.dumps(key, salt=f"{PREVIEW_SALT}:{request.user.pk}") if key else ""


def preview_key_from(request: HttpRequest, token: str) -> str | None:
    """The recipient key a page may preview: one Refresh gave this user, or any client for a user
    who may view clients anyway; otherwise None (the preview uses a sample person)."""
    if not token:
        return None
    try:
        return str(signing.loads(token, salt=f"{PREVIEW_SALT}:{request.user.pk}", max_age=PREVIEW_MAX_AGE))
    except signing.BadSignature:
        pass
    if token[:1] in ("a", "c") and request.user.has_perm("clients.view_client"):
        return token
    return None


@login_required
@send_required
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    """Refresh: who will receive the message, and everyone excluded with the reason."""
    form = NewMessageForm(request.POST)
    if not form.is_valid():
        return render(request, f"{NEW_PAGE}#refresh-invalid", {"form": form, **_contents_context(form, None)})
    data = form.cleaned_data
    result = recipients_for(
        message_type=data["message_type"],
        channels=data["channels"],
        start_date=data["start_date"],
        end_date=data["end_date"],
        only_preferences=data["only_preferences"],
    )
    first = result.recipients[0].key if result.recipients else ""
    variants = Variants()  # the type's templates in every language, read once for the list and the preview
    context = {
        "form": form,
        **_recipients_context(
            result, data["message_type"], show_all=request.POST.get("show_all") == "1", variants=variants
        ),
        **_contents_context(form, first, variants),
        "preview_token": preview_token(request, first),
    }
    _log_refresh(request, data, context)
    return render(request, f"{NEW_PAGE}#refresh-response", context)


def _log_refresh(request: HttpRequest, data: dict[str, Any], context: dict[str, Any]) -> None:
    """The list shows recipients' names, birth dates, addresses and appointments (and the first one's
    preview): what was listed and how many people's rows were shown (recipients and excluded)."""
    shown, excluded = len(context["shown_recipients"]), len(context["excluded_people"])
    values = {
        "message_type": data["message_type"].pk,
        "channels": ",".join(data["channels"]),
        "start_date": data["start_date"],
        "end_date": data["end_date"],
        "only_preferences": data["only_preferences"],
        "recipients": f"{shown} of {len(context['result'].recipients)}",
        "excluded": excluded,
    }
    access_log(request, kind=AccessKind.RECIPIENT_LIST, summary=filter_summary(values), rows=shown + excluded)


def _recipients_context(
    result: RecipientList, message_type: MessageType, *, show_all: bool, variants: Variants
) -> dict[str, Any]:
    """The list's part of the page. Work over every row (the counts, the excluded people) is done once
    here; only the rows shown are labelled and rendered (``recipient_rows``, ``excluded_items``)."""
    limit = None if show_all else DISPLAY_LIMIT
    people = result.excluded_people()
    shown = result.recipients[:limit]
    label_recipients(shown, message_type.pk, result.channels, variants)
    by_channel = result.counts_by_channel()
    return {
        "refreshed": True,
        "result": result,
        "shown_recipients": shown,
        "hidden_count": max(0, len(result.recipients) - DISPLAY_LIMIT) if limit else 0,
        "excluded_people": people[:limit],
        "excluded_hidden": max(0, len(people) - DISPLAY_LIMIT) if limit else 0,
        "fully_excluded": sum(1 for p in people if not p.partly),
        "message_count": sum(by_channel.values()),  # = result.message_count, without a second pass
        "counts": [(Channel(ch).label, n) for ch, n in by_channel.items()],
        "audience_word": "users" if message_type.audience == "staff" else "clients",
        "send_label": send_label(result.channels),
    }


# --- Message contents (preview) ------------------------------------------------------------------


def _contents_context(
    form: NewMessageForm, preview_key: str | None, variants: Variants | None = None
) -> dict[str, Any]:
    """The preview of each chosen channel for the preview recipient, in the language variant they get;
    the edit-for-this-send fields start from the clinic's default language's text (messaging.one_off)."""
    message_type = form.chosen_type()
    channels = form.chosen_channels()
    description = form.data.get("description", "") if form.is_bound else ""
    recipient_label, wanted, make_context, recipient = _preview_recipient(preview_key, description)
    variants = variants or Variants()
    parts = []
    if message_type is not None:
        table = variants.of(message_type.pk)
        shown = channels or [c for c in PREVIEW_ORDER if c in table][:1]
        for channel in shown:
            base = variants.template(message_type.pk, channel)  # the default language's: what staff edit
            draft = one_off.preview_template(form, channel, base)  # texts edited for this send
            template = draft if draft is not base else variants.template(message_type.pk, channel, wanted)
            language = template.language if template is not None else ""
            parts.append(_channel_preview(channel, template, make_context(channel, language)))
            parts[-1]["language"] = language_name(language) if language else ""
            parts[-1]["edit"] = one_off.edit_fields(form, channel, base) if channels else []
    return {
        "message_type": message_type,
        "previews": parts,
        "preview_recipient": recipient_label,
        "preview_for": recipient,  # the real recipient's client / appointment / user, or None (a sample)
        "chosen_channels": channels,
        "channels_chosen": bool(channels),
        "description_required": bool(message_type and message_type.is_manual),
    }


def _preview_recipient(key: str | None, description: str) -> tuple[str, str, Any, dict[str, Any] | None]:
    """Who the preview is rendered for: the first recipient of the list, or a sample person; the
    language they want; their context on a channel in a language; and the real recipient's records."""
    found = _recipient_by_key(key or "")
    if found is None:
        return (
            "a sample recipient",
            default_language(),
            lambda channel, language: sample_context(channel=channel, description=description, language=language),
            None,
        )
    label, kwargs = found
    client = kwargs.get("client")
    wanted = wanted_language(client.preferred_language if client is not None else "")
    return (
        label,
        wanted,
        lambda channel, language: recipient_context(
            channel=channel, description=description, language=language, **kwargs
        ),
        kwargs,
    )


def _recipient_by_key(key: str) -> tuple[str, dict[str, Any]] | None:
    kind, ident = key[:1], key[1:]
    if not ident.isdigit():
        return None
    if kind == "a":
        appointment = (
            Appointment.objects.select_related("client", "clinician", "clinician__staff_profile")
            .filter(pk=int(ident))
            .first()
        )
        if appointment is not None:
            client = appointment.client
            return f"{client.first_name} {client.last_name}", {"client": client, "appointment": appointment}
    elif kind == "c":
        client = Client.objects.filter(pk=int(ident)).first()
        if client is not None:
            return f"{client.first_name} {client.last_name}", {"client": client}
    elif kind == "u":
        user = get_user_model().objects.select_related("staff_profile").filter(pk=int(ident)).first()
        if user is not None:
            return user.get_full_name() or user.get_username(), {"user": user}
    return None


def _channel_preview(channel: str, template: MessageTemplate | None, context: dict[str, str]) -> dict[str, Any]:
    preview: dict[str, Any] = {"channel": channel, "label": Channel(channel).label, "template": template}
    if template is None:
        preview["missing"] = True
        return preview
    rendered = render_for(template=template, context=context)
    fields, warnings = import_string(spec_for(channel).preview)(rendered, template)
    preview.update(fields)
    sources = [v for name in spec_for(channel).template_fields if isinstance(v := getattr(template, name), str)]
    unknown = sorted({name for text in sources for name in unknown_placeholders(text)})
    if unknown:
        warnings.append("Unknown placeholders render empty: " + ", ".join("{{ " + n + " }}" for n in unknown))
    preview["warnings"] = [w for w in warnings if w]
    return preview


# --- Send, progress, cancel -------------------------------------------------------------------------


@login_required
@send_required
@require_POST
def send(request: HttpRequest) -> HttpResponse:
    """Yes in the confirmation: create the broadcast (idempotent on the form's key)."""
    form = NewMessageForm(request.POST, sending=True)
    if not form.is_valid():
        return render(request, f"{NEW_PAGE}#send-invalid", {"form": form, **_contents_context(form, None)})
    data = form.cleaned_data
    try:
        result = broadcast_create(
            message_type=data["message_type"],
            channels=data["channels"],
            user=request.user,
            description=data["description"],
            start_date=data["start_date"],
            end_date=data["end_date"],
            broadcast_at=data["broadcast_at"],
            only_preferences=data["only_preferences"],
            idempotency_key=data["idempotency_key"] or None,
            skip_keys=data["skipped"],
            one_off_texts=data["one_off_texts"],
        )
    except NothingToSend as exc:
        context = {"form": form, **_contents_context(form, None), "send_error": str(exc)}
        return render(request, f"{NEW_PAGE}#send-invalid", context)
    broadcast = result.broadcast
    if result.created:
        what = f"{result.queued} message{'s' if result.queued != 1 else ''} queued"
        if result.suppressed:
            what += f", {result.suppressed} suppressed (Do-Not-Send)"
        messages.success(request, f"Broadcast #{broadcast.pk} created: {what}.")
    context = {**_progress_context(broadcast), "new_key": new_idempotency_key()}
    return render(request, f"{NEW_PAGE}#send-response", context)


# The progress box polls only while there is something to watch: not for a broadcast that goes out
# later (it would poll for days), and not longer than this after Send.
POLL_FOR = dt.timedelta(minutes=15)


def _progress_context(broadcast: Broadcast) -> dict[str, Any]:
    progress = broadcast_progress(broadcast.pk)
    now = clock.now()
    if progress.is_final:
        polling, why_not = False, ""
    elif broadcast.broadcast_at > now + dt.timedelta(minutes=1):
        polling, why_not = False, "scheduled"
    elif now - broadcast.created_at > POLL_FOR:
        polling, why_not = False, "stale"
    else:
        polling, why_not = True, ""
    return {
        "broadcast": broadcast,
        "progress": progress,
        "polling": polling,
        "not_polling": why_not,
        "channel_labels": ", ".join(Channel(c).label for c in broadcast.channels if c in Channel.values),
    }


def _broadcast(pk: int) -> Broadcast:
    return get_object_or_404(Broadcast.objects.select_related("message_type", "created_by"), pk=pk)


@login_required
@send_required
@require_GET
def broadcast_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress summary (polled every 2 s by htmx until every delivery is final)."""
    return render(request, f"{NEW_PAGE}#progress", _progress_context(_broadcast(pk)))


@login_required
@send_required
@require_POST
def broadcast_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = _broadcast(pk)
    if not may_cancel(request.user, broadcast):
        raise PermissionDenied("Cancelling another user's broadcast needs the 'cancel any broadcast' permission.")
    count = broadcast_cancel(broadcast=broadcast, user=request.user)
    messages.success(request, f"Broadcast #{broadcast.pk}: {count} message{'s' if count != 1 else ''} cancelled.")
    return render(request, f"{NEW_PAGE}#progress-response", _progress_context(broadcast))


# --- History -----------------------------------------------------------------------------------------


def _history_context(request: HttpRequest, params: Any) -> dict[str, Any]:
    filter_form = HistoryFilterForm(params)
    filter_form.is_valid()
    filters = filter_form.filters()
    columns = hist.layout_columns(request.user)
    after = hist.Cursor.decode(params.get("after"))
    before = hist.Cursor.decode(params.get("before")) if after is None else None
    page = hist.history_page(filters, after=after, before=before, columns=columns)
    query = _filter_query(filter_form)
    shown = {c.key for c in columns}
    return {
        "filter_form": filter_form,
        "filters": filters,
        "columns": columns,
        "available_columns": [c for c in hist.COLUMN_LIST if c.key not in shown],
        "rows": hist.table_rows(page.rows, columns),
        "page": page,
        "query": query,
        "query_amp": f"{query}&" if query else "",
        "broadcast_filter": _broadcast_or_none(filters.broadcast_id),
    }


def _broadcast_or_none(pk: int | None) -> Broadcast | None:
    return Broadcast.objects.select_related("message_type").filter(pk=pk).first() if pk else None


def _filter_query(form: HistoryFilterForm) -> str:
    """The valid filters as a query string (for pager, export and layout links)."""
    from urllib.parse import urlencode

    data = getattr(form, "cleaned_data", {})
    pairs = []
    for name in form.fields:
        value = data.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, MessageType):
            value = value.pk
        elif isinstance(value, dt.date):
            value = value.isoformat()
        pairs.append((name, value))
    return urlencode(pairs)


@login_required
@history_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """The History tab: one row per delivery, newest first, with the user's columns."""
    context = _history_context(request, request.GET)
    _log_history(request, context)
    return render(request, _page_or_partial(request, HISTORY_PAGE, "results"), context)


def _history_summary(filters: hist.Filters, **paging: object) -> str:
    """History's filters for the access log: the recipient search only as "(given)" (a name or address)."""
    values = dataclasses.asdict(filters)
    values["search"] = values.pop("q")
    return filter_summary({**values, **paging}, private=["search"])


def _log_history(request: HttpRequest, context: dict[str, Any]) -> None:
    """The History table shows recipients' names and addresses: who saw which filtered rows."""
    paging = {"page": "older" if context["page"].prev_cursor else ""}
    summary = _history_summary(context["filters"], **paging)
    access_log(request, kind=AccessKind.HISTORY, summary=summary, rows=len(context["rows"]))


@login_required
@history_required
@require_POST
def history_layout(request: HttpRequest) -> HttpResponse:
    """Save the user's History columns (drag, add, remove) and answer with the re-drawn table."""
    keys = [k for k in request.POST.get("columns", "").split(",") if k]
    try:
        hist.layout_save(user=request.user, columns=keys)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    context = _history_context(request, request.POST)
    _log_history(request, context)
    context["panel_open"] = request.POST.get("panel_open") == "1"
    response = render(request, f"{HISTORY_PAGE}#layout-response", context)
    response["HX-Push-Url"] = "false"  # the page's address (with its filters) stays as it is
    return response


@login_required
@history_required
@require_GET
def history_export(request: HttpRequest) -> StreamingHttpResponse:
    """CSV of every filtered row (the user's columns), streamed; logged when the stream ends."""
    form = HistoryFilterForm(request.GET)
    form.is_valid()
    columns = hist.layout_columns(request.user)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    lines = _logged_export(request, form.filters(), columns)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="messaging-history-{stamp}.csv"'
    return response


def _logged_export(request: HttpRequest, filters: hist.Filters, columns: list[hist.Column]) -> Iterator[str]:
    """The export's lines; once the last is sent (or the download stops), one access-log row with the
    filters and the rows actually sent: the count is known only then, and nothing is counted twice."""
    lines, finished = 0, False
    try:
        for line in hist.export_rows(filters, columns):
            lines += 1
            yield line
        finished = True
    finally:
        summary = _history_summary(filters) + ("" if finished else " (download stopped)")
        rows = max(0, lines - 1)  # the first line is the header
        access_log(request, kind=AccessKind.HISTORY_EXPORT, summary=summary.lstrip(), rows=rows)


@login_required
@history_required
@require_http_methods(["GET"])
def delivery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One delivery: every attempt, the provider's responses and callbacks, in order."""
    try:
        detail = hist.delivery_detail(pk)
    except hist.Delivery.DoesNotExist as exc:
        raise Http404("No such delivery") from exc
    delivery = detail.delivery
    access_log(request, kind=AccessKind.DELIVERY_DETAIL, object_ids=[pk], client_id=delivery.client_id, rows=1)
    context = {
        "detail": detail,
        "d": detail.delivery,
        "said": said(detail.delivery),
        "chain": fallback_chain(detail.delivery),
        "back": reverse("messaging:history"),
    }
    return render(request, "messaging/delivery_detail.html", context)


# --- Other screens (owned by other issues) -----------------------------------------------------------


from messaging.appointment_views import appointments  # noqa: E402, F401  Scheduled Appointments (issue 6)


def simulators(request: HttpRequest) -> HttpResponse:
    """The demo's simulator page lives with the dispatcher (``messaging.simulator_views``, login required)."""
    from messaging.simulator_views import simulators as view

    return view(request)
