"""Utilities > Templates: message types, their per-channel templates and voice recordings, without the admin.

Thin views for users with ``messaging.manage_templates``: forms validate (``messaging.template_forms``),
``messaging.template_services`` reads and writes. The editor's live preview is the New tab's own
(``messaging.views._channel_preview``: the channel's preview function, segment counts, clinical-word and
unknown-placeholder warnings) rendered for a sample recipient, so no client data is shown here.
Mounted under ``/messaging/templates/`` by ``messaging/urls.py`` (names in the ``messaging`` namespace).
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from messaging import template_services as svc
from messaging.channels.registry import ChannelSpec, spec_for
from messaging.languages import default_language, language_choices, language_name
from messaging.models import MessageTemplate, MessageType, TemplateVersion
from messaging.recordings import CONTENT_TYPES, MAX_BYTES
from messaging.rendering import sample_context
from messaging.template_forms import (
    MessageTypeForm,
    RecordingConfirmForm,
    RecordingUploadForm,
    TemplateTextForm,
    placeholder_list,
)
from messaging.views import _channel_preview

manage_required = permission_required("messaging.manage_templates", raise_exception=True)

PENDING_SALT = "messaging.templates.pending-recording"
PENDING_MAX_AGE = 3600


def _type(pk: int) -> MessageType:
    return get_object_or_404(MessageType, pk=pk)


def _spec(channel: str) -> ChannelSpec:
    try:
        return spec_for(channel)
    except LookupError as exc:
        raise Http404("No such channel") from exc


def _language(request: HttpRequest) -> str:
    """The language variant a page is about (``?language=es``; none: the clinic's default)."""
    code = request.GET.get("language") or default_language()
    if code not in dict(language_choices()):
        raise Http404("No such language")
    return code


def _editor_url(pk: int, channel: str, language: str) -> str:
    url = reverse("messaging:templates-edit", args=[pk, channel])
    return url if language == default_language() else f"{url}?language={language}"


# --- List and message types ---------------------------------------------------------------------------


@login_required
@manage_required
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    return render(request, "messaging/templates_list.html", {"rows": svc.type_rows()})


@login_required
@manage_required
@require_http_methods(["GET", "POST"])
def type_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create a message type (``pk`` None) or change one; its channels' templates are listed below."""
    message_type = _type(pk) if pk is not None else MessageType()
    form = MessageTypeForm(request.POST or None, instance=message_type)
    if request.method == "POST" and form.is_valid():
        created = message_type.pk is None
        svc.message_type_save(message_type=message_type, values=form.cleaned_data)
        messages.success(request, f"Message type “{message_type.name}” {'created' if created else 'saved'}.")
        return redirect("messaging:templates-type", pk=message_type.pk)
    rows = svc.type_rows(message_type.pk) if message_type.pk else []
    context = {"form": form, "message_type": message_type, "row": rows[0] if rows else None}
    return render(request, "messaging/templates_type.html", context, status=400 if form.errors else 200)


@login_required
@manage_required
@require_POST
def type_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Retire a type (``active=0``) or bring it back (``active=1``)."""
    message_type = _type(pk)
    active = request.POST.get("active") == "1"
    svc.message_type_set_active(message_type=message_type, active=active)
    if active:
        messages.success(request, f"“{message_type.name}” is back on the Message Types list.")
    else:
        messages.success(request, f"“{message_type.name}” is retired: it is no longer offered. Its history is kept.")
    return redirect("messaging:templates-type", pk=message_type.pk)


# --- One channel's template -----------------------------------------------------------------------------


def _editor_context(
    message_type: MessageType,
    spec: ChannelSpec,
    template: MessageTemplate | None,
    form: TemplateTextForm,
    *,
    language: str,
    all_versions: bool = False,
) -> dict[str, Any]:
    limit = None if all_versions else svc.VERSIONS_SHOWN
    versions = svc.versions_of(message_type, spec.kind, language, limit=limit)
    row = next((c for c in svc.type_rows(message_type.pk)[0].channels if c.spec.kind == spec.kind), None)
    have = {v.language: v.version for v in row.variants} if row is not None else {}
    return {
        "message_type": message_type,
        "spec": spec,
        "template": template,
        "form": form,
        "preview": _preview(message_type, spec, template, form),
        "placeholders": placeholder_list(),
        "versions": versions,
        "version_count": (
            svc.version_count(message_type, spec.kind, language) if len(versions) >= svc.VERSIONS_SHOWN else 0
        ),
        "takes_recording": svc.takes_recording(spec),
        "upload_form": RecordingUploadForm(),
        "language": language,
        "language_name": language_name(language),
        "language_query": "" if language == default_language() else f"?language={language}",
        "languages": [
            {
                "code": code,
                "name": name,
                "exists": code in have,
                "version": have.get(code),
                "url": _editor_url(message_type.pk, spec.kind, code),
                "current": code == language,
            }
            for code, name in language_choices()
        ],
    }


def _preview(
    message_type: MessageType, spec: ChannelSpec, template: MessageTemplate | None, form: TemplateTextForm
) -> dict[str, Any]:
    """The New tab's preview of the texts in ``form`` (as typed, valid or not) for a sample recipient,
    with dates and times written in the form's language."""
    draft = (
        copy.copy(template) if template is not None else MessageTemplate(message_type=message_type, channel=spec.kind)
    )
    for name in svc.text_fields(spec):
        value = form.data.get(name) if form.is_bound else form.initial.get(name)
        setattr(draft, name, (value or "")[:50_000])
    typed = form.data.get("language") if form.is_bound else form.initial.get("language")
    language = typed if typed in dict(language_choices()) else form.editing_language
    context = sample_context(channel=spec.kind, description="(Description)", language=language)
    return _channel_preview(spec.kind, draft, context)


@login_required
@manage_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    """One channel's template in one language (``?language=``); a language without a text yet starts
    from the clinic's default language's text, to translate."""
    message_type, spec, language = _type(pk), _spec(channel), _language(request)
    template = svc.template_in(message_type, spec.kind, language)
    source = template or svc.template_in(message_type, spec.kind, default_language())
    initial: dict[str, Any] = {name: getattr(source, name) for name in svc.text_fields(spec)} if source else {}
    initial["language"] = language
    has_recording = bool(template and template.voice_audio)
    if request.method == "POST":
        form = TemplateTextForm(request.POST, spec=spec, has_recording=has_recording, language=language)
        if form.is_valid():
            saved_in = form.cleaned_data["language"]
            _, version = svc.template_save(
                message_type=message_type,
                channel=spec.kind,
                values=form.cleaned_data,
                user=request.user,
                language=saved_in,
            )
            messages.success(
                request, f"{spec.label} template ({language_name(saved_in)}) saved as version {version.number}."
            )
            return redirect(_editor_url(message_type.pk, spec.kind, saved_in))
    else:
        form = TemplateTextForm(initial=initial, spec=spec, has_recording=has_recording, language=language)
    context = _editor_context(
        message_type, spec, template, form, language=language, all_versions=request.GET.get("versions") == "all"
    )
    context["translating_from"] = language_name(source.language) if template is None and source else ""
    return render(request, "messaging/templates_edit.html", context, status=400 if form.errors else 200)


@login_required
@manage_required
@require_POST
def template_preview(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    """The live preview (htmx, as staff type): rendered text, segment count and warnings."""
    message_type, spec, language = _type(pk), _spec(channel), _language(request)
    template = svc.template_in(message_type, spec.kind, language)
    form = TemplateTextForm(
        request.POST, spec=spec, has_recording=bool(template and template.voice_audio), language=language
    )
    context = {"preview": _preview(message_type, spec, template, form), "spec": spec, "message_type": message_type}
    return render(request, "messaging/templates_edit.html#preview", context)


@login_required
@manage_required
@require_GET
def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(
        TemplateVersion.objects.select_related("message_type", "created_by", "broadcast"), pk=pk
    )
    spec = _spec(version.channel)
    fields = [
        (str(MessageTemplate._meta.get_field(name).verbose_name).capitalize(), getattr(version, name))
        for name in svc.text_fields(spec)
    ]
    context = {"version": version, "spec": spec, "fields": fields, "language_name": language_name(version.language)}
    return render(request, "messaging/templates_version.html", context)


# --- Recordings -----------------------------------------------------------------------------------------


def _pending_token(request: HttpRequest, name: str) -> str:
    return signing.dumps(name, salt=f"{PENDING_SALT}:{request.user.pk}")


def _pending_name(request: HttpRequest, token: str) -> str | None:
    try:
        name = str(signing.loads(token, salt=f"{PENDING_SALT}:{request.user.pk}", max_age=PENDING_MAX_AGE))
    except signing.BadSignature:
        return None
    return name if svc.is_pending_name(name) and default_storage.exists(name) else None


def _checked_upload(request: HttpRequest) -> RecordingUploadForm:
    """The upload form, validated; a body far over the limit is refused before its file is read."""
    if int(request.META.get("CONTENT_LENGTH") or 0) <= MAX_BYTES + 65_536:
        upload = RecordingUploadForm(request.POST, request.FILES)
        upload.is_valid()
        return upload
    upload = RecordingUploadForm(data={}, files={})
    upload.is_valid()
    upload.errors["recording"] = upload.error_class(
        [f"The file is larger than {MAX_BYTES // 1_048_576} MB, the most a recording may be."]
    )
    return upload


@login_required
@manage_required
@require_POST
def recording_upload(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    """Step 1: check the file (real type, size, duration) and show it with a player to listen before saving."""
    message_type, spec, language = _type(pk), _spec(channel), _language(request)
    if not svc.takes_recording(spec):
        raise Http404("This channel plays no recordings")
    template = svc.template_in(message_type, spec.kind, language)
    upload = _checked_upload(request)
    if upload.errors:
        initial = {name: getattr(template, name) for name in svc.text_fields(spec)} if template else {}
        has_recording = bool(template and template.voice_audio)
        form = TemplateTextForm(initial=initial, spec=spec, has_recording=has_recording, language=language)
        context = {**_editor_context(message_type, spec, template, form, language=language), "upload_form": upload}
        return render(request, "messaging/templates_edit.html", context, status=400)
    name = svc.recording_stage(data=upload.data_bytes, recording=upload.recording)
    token = _pending_token(request, name)
    context = {
        "message_type": message_type,
        "spec": spec,
        "recording": upload.recording,
        "original_name": upload.cleaned_data["recording"].name,
        "confirm_form": RecordingConfirmForm(initial={"pending": token}),
        "audio_url": reverse("messaging:templates-pending-audio", args=[token]),
        "language_query": "" if language == default_language() else f"?language={language}",
        "language_name": language_name(language),
    }
    return render(request, "messaging/templates_recording.html", context)


@login_required
@manage_required
@require_POST
def recording_confirm(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    """Step 2: the recording staff listened to becomes the template's (a new version)."""
    message_type, spec, language = _type(pk), _spec(channel), _language(request)
    if not svc.takes_recording(spec):
        raise Http404("This channel plays no recordings")
    form = RecordingConfirmForm(request.POST)
    name = _pending_name(request, form.data.get("pending", "")) if form.is_valid() else None
    if name is None:
        messages.error(request, "That upload has expired or is not yours. Please upload the recording again.")
        return redirect(_editor_url(message_type.pk, spec.kind, language))
    try:
        _, version = svc.recording_attach(
            message_type=message_type, pending_name=name, user=request.user, language=language
        )
    except FileNotFoundError:
        messages.error(request, "That upload is gone. Please upload the recording again.")
    else:
        messages.success(request, f"Recording saved: {spec.label} template version {version.number}.")
    return redirect(_editor_url(message_type.pk, spec.kind, language))


@login_required
@manage_required
@require_POST
def recording_remove(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    message_type, spec, language = _type(pk), _spec(channel), _language(request)
    if not svc.takes_recording(spec):
        raise Http404("This channel plays no recordings")
    result = svc.recording_remove(message_type=message_type, user=request.user, language=language)
    if result is not None:
        messages.success(request, f"Recording removed: the script is read instead (version {result[1].number}).")
    return redirect(_editor_url(message_type.pk, spec.kind, language))


def _audio_response(name: str) -> FileResponse:
    if not name or not default_storage.exists(name):
        raise Http404("No such recording")
    extension = name.rsplit(".", 1)[-1].lower()
    kind = "wav" if extension in ("wav", "wave") else "mp3"
    response = FileResponse(default_storage.open(name, "rb"), content_type=CONTENT_TYPES[kind])
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@manage_required
@require_GET
def pending_audio(request: HttpRequest, token: str) -> FileResponse:
    """An uploaded recording not yet saved, for the player (only for the user who uploaded it)."""
    name = _pending_name(request, token)
    if name is None:
        raise Http404("No such recording")
    return _audio_response(name)


@login_required
@manage_required
@require_GET
def template_audio(request: HttpRequest, pk: int, channel: str) -> FileResponse:
    template = MessageTemplate.objects.filter(
        message_type_id=pk, channel=_spec(channel).kind, language=_language(request)
    ).first()
    return _audio_response(template.voice_audio.name if template and template.voice_audio else "")


@login_required
@manage_required
@require_GET
def version_audio(request: HttpRequest, pk: int) -> FileResponse:
    version = get_object_or_404(TemplateVersion, pk=pk)
    return _audio_response(version.voice_audio.name if version.voice_audio else "")


urlpatterns = [
    path("", template_list, name="templates"),
    path("types/new/", type_edit, name="templates-type-new"),
    path("types/<int:pk>/", type_edit, name="templates-type"),
    path("types/<int:pk>/active/", type_active, name="templates-type-active"),
    path("types/<int:pk>/<slug:channel>/", template_edit, name="templates-edit"),
    path("types/<int:pk>/<slug:channel>/preview/", template_preview, name="templates-preview"),
    path("types/<int:pk>/<slug:channel>/recording/", recording_upload, name="templates-recording"),
    path("types/<int:pk>/<slug:channel>/recording/confirm/", recording_confirm, name="templates-recording-confirm"),
    path("types/<int:pk>/<slug:channel>/recording/remove/", recording_remove, name="templates-recording-remove"),
    path("types/<int:pk>/<slug:channel>/recording.audio", template_audio, name="templates-audio"),
    path("versions/<int:pk>/", version_detail, name="templates-version"),
    path("versions/<int:pk>/audio", version_audio, name="templates-version-audio"),
    path("recordings/<str:token>/", pending_audio, name="templates-pending-audio"),
]
