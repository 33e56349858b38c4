"""Issue 14 §2: Utilities > Templates (types, per-channel templates, versions, recordings) without the admin."""

from __future__ import annotations

import io
import struct
import wave

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from messaging.models import MessageTemplate, MessageType, TemplateVersion
from messaging.recordings import MAX_SECONDS, RecordingError, inspect_recording, mp3_seconds, sniff, wav_seconds

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(rate * seconds))
    return buffer.getvalue()


def mp3_bytes(frames: int = 50, id3: bool = True) -> bytes:
    """MPEG-1 Layer III, 128 kbit/s, 44.1 kHz frames (417 bytes, 1,152 samples each) behind an ID3v2 tag."""
    frame = bytes([0xFF, 0xFB, 0x90, 0x00]) + b"\x00" * 413
    tag = b"ID3\x04\x00\x00" + bytes([0, 0, 0, 10]) + b"\x00" * 10 if id3 else b""
    return tag + frame * frames


@pytest.fixture
def manager(django_user_model):
    user = django_user_model.objects.create_user("tina", password="pw-12345678")
    user.user_permissions.set(Permission.objects.filter(codename__in=["manage_templates", "send_messages"]))
    return user


@pytest.fixture
def other(django_user_model):
    user = django_user_model.objects.create_user("frank", password="pw-12345678")
    user.user_permissions.set(Permission.objects.filter(codename__in=["send_messages", "view_history"]))
    return user


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def make_type(code: str = "flu-clinic") -> MessageType:
    return MessageType.objects.create(code=code, name="Flu clinic", is_manual=True)


# --- Sniffing and limits ---------------------------------------------------------------------------


def test_wav_and_mp3_are_recognised_by_their_bytes_and_measured():
    assert sniff(wav_bytes()) == "wav" and sniff(mp3_bytes()) == "mp3" and sniff(mp3_bytes(id3=False)) == "mp3"
    assert sniff(PNG) == "" and sniff(b"hello") == ""
    assert wav_seconds(wav_bytes(2.5)) == pytest.approx(2.5)
    assert mp3_seconds(mp3_bytes(100)) == pytest.approx(100 * 1152 / 44100)
    found = inspect_recording(wav_bytes(3), "hello.WAV")
    assert (found.kind, round(found.seconds), found.duration_label) == ("wav", 3, "0:03")


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (mp3_bytes(), "message.wav", "named WAV but holds MP3"),
        (PNG, "message.wav", "not a WAV or MP3"),
        (wav_bytes(), "message.mp3", "named MP3 but holds WAV"),
        (wav_bytes(), "message.ogg", "ending in .wav or .mp3"),
        (b"", "message.wav", "empty"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", "message.wav", "damaged"),
        (mp3_bytes(1) + PNG * 40, "message.mp3", "damaged"),
    ],
)
def test_a_file_that_is_not_what_it_says_is_refused(data, name, words):
    with pytest.raises(RecordingError, match=words):
        inspect_recording(data, name)


def test_too_long_and_too_big_are_refused(settings):
    with pytest.raises(RecordingError, match="at most 3:00"):
        inspect_recording(wav_bytes(MAX_SECONDS + 5, rate=1000), "long.wav")
    with pytest.raises(RecordingError, match="at most 5 MB"):
        inspect_recording(b"RIFF" + b"\x00" * (6 * 1024 * 1024), "big.wav")


# --- Permissions -----------------------------------------------------------------------------------


def urls(message_type: MessageType, version: TemplateVersion) -> list[tuple[str, str]]:
    pk = message_type.pk
    return [
        ("get", reverse("messaging:templates")),
        ("get", reverse("messaging:templates-type-new")),
        ("post", reverse("messaging:templates-type-new")),
        ("get", reverse("messaging:templates-type", args=[pk])),
        ("post", reverse("messaging:templates-type", args=[pk])),
        ("post", reverse("messaging:templates-type-active", args=[pk])),
        ("get", reverse("messaging:templates-edit", args=[pk, "sms"])),
        ("post", reverse("messaging:templates-edit", args=[pk, "sms"])),
        ("post", reverse("messaging:templates-preview", args=[pk, "sms"])),
        ("post", reverse("messaging:templates-recording", args=[pk, "voice"])),
        ("post", reverse("messaging:templates-recording-confirm", args=[pk, "voice"])),
        ("post", reverse("messaging:templates-recording-remove", args=[pk, "voice"])),
        ("get", reverse("messaging:templates-audio", args=[pk, "voice"])),
        ("get", reverse("messaging:templates-version", args=[version.pk])),
        ("get", reverse("messaging:templates-version-audio", args=[version.pk])),
        ("get", reverse("messaging:templates-pending-audio", args=["x"])),
    ]


def test_every_action_is_403_without_manage_templates(client, other):
    message_type = make_type()
    template = MessageTemplate.objects.create(message_type=message_type, channel="sms", sms_body="Hi")
    from messaging.content import version_for

    version = version_for(template)
    client.force_login(other)
    for method, url in urls(message_type, version):
        response = getattr(client, method)(url)
        assert response.status_code == 403, (method, url)
    assert MessageType.objects.get(pk=message_type.pk).active
    assert b"Templates</a>" not in client.get(reverse("messaging:history")).content


def test_signed_out_users_are_sent_to_sign_in(client):
    response = client.get(reverse("messaging:templates"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Types and templates ---------------------------------------------------------------------------


def test_create_a_type_edit_its_text_and_every_save_is_a_version(client, manager):
    client.force_login(manager)
    assert b"Templates</a>" in client.get(reverse("messaging:templates")).content  # the Utilities menu
    response = client.post(
        reverse("messaging:templates-type-new"),
        {"name": "Flu  clinic", "code": "", "audience": "clients", "selection": "all_clients", "sort_order": 50},
    )
    message_type = MessageType.objects.get(code="flu-clinic")
    assert response.status_code == 302 and message_type.name == "Flu clinic" and not message_type.is_manual
    edit = reverse("messaging:templates-edit", args=[message_type.pk, "sms"])
    assert client.post(edit, {"sms_body": "Flu shots Friday, {{ first_name }}."}).status_code == 302
    assert client.post(edit, {"sms_body": "Flu shots Saturday, {{ first_name }}."}).status_code == 302
    versions = TemplateVersion.objects.filter(message_type=message_type, channel="sms").order_by("number")
    assert [(v.number, v.created_by_id) for v in versions] == [(1, manager.pk), (2, manager.pk)]
    assert versions[0].sms_body == "Flu shots Friday, {{ first_name }}."  # the old text is kept
    page = client.get(edit).content.decode()
    assert "Version 2" in page and "Version 1" in page and "{{ telehealth_link }}" in page  # placeholder list
    old = client.get(reverse("messaging:templates-version", args=[versions[0].pk])).content.decode()
    assert "Flu shots Friday" in old and "tina" in old
    listing = client.get(reverse("messaging:templates")).content.decode()
    assert "Flu clinic" in listing and "Text (SMS) v2" in listing


def test_saving_the_same_text_again_keeps_the_version(client, manager):
    client.force_login(manager)
    message_type = make_type()
    edit = reverse("messaging:templates-edit", args=[message_type.pk, "sms"])
    client.post(edit, {"sms_body": "Same"})
    client.post(edit, {"sms_body": "Same"})
    assert TemplateVersion.objects.filter(message_type=message_type).count() == 1


def test_bad_template_input_gets_form_errors_not_a_500(client, manager):
    client.force_login(manager)
    message_type = make_type()
    edit = reverse("messaging:templates-edit", args=[message_type.pk, "sms"])
    too_long = client.post(edit, {"sms_body": "x" * 1601})
    assert too_long.status_code == 400 and "At most 1,600 characters" in too_long.content.decode()
    unknown = client.post(edit, {"sms_body": "Hi {{ diagnosis }}"})
    assert unknown.status_code == 400 and "Unknown placeholder" in unknown.content.decode()
    empty = client.post(edit, {"sms_body": "  "})
    assert empty.status_code == 400 and "Write the message text" in empty.content.decode()
    assert client.get(reverse("messaging:templates-edit", args=[message_type.pk, "pigeon"])).status_code == 404
    duplicate = client.post(
        reverse("messaging:templates-type-new"),
        {"name": "Flu clinic", "audience": "clients", "selection": "all_clients", "sort_order": 1},
    )
    assert duplicate.status_code == 400 and "already exists" in duplicate.content.decode()
    assert not MessageTemplate.objects.filter(message_type=message_type).exists()


def test_email_allows_a_letter_and_the_channels_come_from_the_registry(client, manager):
    client.force_login(manager)
    message_type = make_type()
    page = client.get(reverse("messaging:templates-type", args=[message_type.pk])).content.decode()
    from messaging.channels.registry import all_specs

    for spec in all_specs():
        assert reverse("messaging:templates-edit", args=[message_type.pk, spec.kind]) in page
    edit = reverse("messaging:templates-edit", args=[message_type.pk, "email"])
    letter = "Dear {{ first_name }},\n\n" + "A long letter. " * 1200
    assert client.post(edit, {"email_subject": "News", "email_text": letter, "email_html": ""}).status_code == 302
    assert MessageTemplate.objects.get(message_type=message_type, channel="email").email_text == letter


def test_the_preview_shows_segments_and_the_clinical_warning(client, manager):
    client.force_login(manager)
    message_type = make_type()
    url = reverse("messaging:templates-preview", args=[message_type.pk, "sms"])
    page = client.post(url, {"sms_body": "Hi {{ first_name }}, your methadone dose. " + "x" * 150}).content.decode()
    assert "Hi Alex" in page and "2 segments" in page and "methadone" in page and "preview-warning" in page
    voice = client.post(
        reverse("messaging:templates-preview", args=[message_type.pk, "voice"]), {"voice_script": "Hello"}
    )
    assert voice.status_code == 200 and "Hello" in voice.content.decode()


def test_retire_keeps_the_type_and_its_history(client, manager):
    client.force_login(manager)
    message_type = make_type()
    response = client.post(reverse("messaging:templates-type-active", args=[message_type.pk]), {"active": "0"})
    assert response.status_code == 302
    message_type.refresh_from_db()
    assert not message_type.active
    from messaging.forms import NewMessageForm

    assert message_type not in NewMessageForm().fields["message_type"].queryset
    client.post(reverse("messaging:templates-type-active", args=[message_type.pk]), {"active": "1"})
    message_type.refresh_from_db()
    assert message_type.active


# --- Recordings ------------------------------------------------------------------------------------


def test_upload_listen_then_save_a_wav(client, manager, media):
    client.force_login(manager)
    message_type = make_type()
    upload = client.post(
        reverse("messaging:templates-recording", args=[message_type.pk, "voice"]),
        {"recording": SimpleUploadedFile("hello.wav", wav_bytes(2), content_type="audio/wav")},
    )
    page = upload.content.decode()
    assert upload.status_code == 200 and "<audio" in page and "0:02" in page
    assert not MessageTemplate.objects.filter(message_type=message_type, channel="voice").exists()  # not yet
    token = upload.context["confirm_form"].initial["pending"]
    audio = client.get(reverse("messaging:templates-pending-audio", args=[token]))
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    assert b"".join(audio.streaming_content)[:4] == b"RIFF"
    saved = client.post(
        reverse("messaging:templates-recording-confirm", args=[message_type.pk, "voice"]), {"pending": token}
    )
    assert saved.status_code == 302
    template = MessageTemplate.objects.get(message_type=message_type, channel="voice")
    assert template.voice_audio.name.startswith("voice/flu-clinic-") and template.voice_audio.name.endswith(".wav")
    version = TemplateVersion.objects.get(message_type=message_type, channel="voice")
    assert version.voice_audio.name == template.voice_audio.name and len(version.voice_audio_sha256) == 64
    assert version.created_by_id == manager.pk
    assert not list((media / "voice" / "pending").iterdir())  # the staged copy is gone
    assert client.get(reverse("messaging:templates-audio", args=[message_type.pk, "voice"])).status_code == 200
    # The same token cannot be replayed, nor used by another user.
    again = client.post(
        reverse("messaging:templates-recording-confirm", args=[message_type.pk, "voice"]), {"pending": token}
    )
    assert again.status_code == 302 and TemplateVersion.objects.filter(message_type=message_type).count() == 1


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (mp3_bytes(), "hello.wav", "named WAV but holds MP3"),
        (PNG, "hello.wav", "not a WAV or MP3"),
        (wav_bytes(MAX_SECONDS + 1, rate=1000), "long.wav", "recordings may last at most"),
    ],
)
def test_a_wrong_recording_gets_a_clear_form_error(client, manager, media, data, name, words):
    client.force_login(manager)
    message_type = make_type()
    response = client.post(
        reverse("messaging:templates-recording", args=[message_type.pk, "voice"]),
        {"recording": SimpleUploadedFile(name, data)},
    )
    assert response.status_code == 400 and words in response.content.decode()
    assert not (media / "voice").exists()


def test_a_recording_over_the_size_limit_is_refused_before_it_is_read(client, manager, media):
    client.force_login(manager)
    message_type = make_type()
    big = b"RIFF" + struct.pack("<I", 0) + b"WAVE" + b"\x00" * (5 * 1024 * 1024 + 70_000)
    response = client.post(
        reverse("messaging:templates-recording", args=[message_type.pk, "voice"]),
        {"recording": SimpleUploadedFile("big.wav", big)},
    )
    assert response.status_code == 400 and "larger than 5 MB" in response.content.decode()


def test_the_channel_without_recordings_takes_none(client, manager):
    client.force_login(manager)
    message_type = make_type()
    url = reverse("messaging:templates-recording", args=[message_type.pk, "sms"])
    assert client.post(url, {"recording": SimpleUploadedFile("a.wav", wav_bytes())}).status_code == 404


def test_the_new_tab_previews_a_voice_template_that_has_a_recording(client, manager, media):
    """A saved recording is a file, not text: the New tab's unknown-placeholder check skips it (it raised)."""
    message_type = make_type()
    template = MessageTemplate.objects.create(message_type=message_type, channel="voice", voice_script="Hello")
    template.voice_audio.save("hello.wav", SimpleUploadedFile("hello.wav", wav_bytes()), save=True)
    client.force_login(manager)
    response = client.get(reverse("messaging:preview"), {"message_type": message_type.pk, "channels": "voice"})
    assert response.status_code == 200 and "recorded voice file" in response.content.decode()


# --- The New tab: a text edited for one send (a one-off version) ----------------------------------------


@pytest.fixture
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)


def send_data(message_type, **extra):
    from django.utils import timezone

    today = timezone.localdate()
    data = {
        "message_type": str(message_type.pk),
        "description": "Parking lot closed",
        "start_date": today.isoformat(),
        "end_date": today.isoformat(),
        "broadcast_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "channels": ["sms"],
        "idempotency_key": "key-1",
        "skipped": "",
    }
    data.update(extra)
    return data


def edit_key(message_type, channel, name):
    return f"edit-{message_type.pk}-{channel}-{name}"


def test_an_ad_hoc_text_edited_for_one_send_is_a_one_off_version(client, manager, _no_dispatch):
    from clients.tests.factories import make_client
    from messaging.content import rendered_for
    from messaging.models import Broadcast, Delivery

    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    template = MessageTemplate.objects.get(message_type=ad_hoc, channel="sms")
    before = template.sms_body
    make_client(first_name="Ana")
    client.force_login(manager)
    long_text = "Hi {{ first_name }}, the parking lot is closed on Friday. " + "Please use the street. " * 70
    long_text = long_text[:1600]
    page = client.post(
        reverse("messaging:preview"), send_data(ad_hoc, **{edit_key(ad_hoc, "sms", "sms_body"): long_text})
    ).content.decode()
    assert "Hi Alex, the parking lot is closed" in page and "11 segments" in page  # preview of the edit
    assert f'name="{edit_key(ad_hoc, "sms", "sms_body")}"' in page

    response = client.post(
        reverse("messaging:send"),
        send_data(ad_hoc, **{edit_key(ad_hoc, "sms", "sms_body"): long_text}),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "Broadcast #" in response.content.decode()
    broadcast = Broadcast.objects.get()
    delivery = Delivery.objects.get(broadcast=broadcast)
    version = delivery.template_version
    assert version.broadcast_id == broadcast.pk and version.sms_body == long_text and version.created_by == manager
    assert rendered_for(delivery).sms_body.startswith("Hi Ana, the parking lot is closed")
    template.refresh_from_db()
    assert template.sms_body == before  # the template is unchanged...
    from messaging.content import version_for

    current = version_for(template)
    assert current.broadcast_id is None and current.pk != version.pk  # ...and the one-off never becomes current


def test_an_unchanged_text_uses_the_template_version_and_too_long_is_refused(client, manager, _no_dispatch):
    from clients.tests.factories import make_client
    from messaging.models import Broadcast, Delivery

    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    template = MessageTemplate.objects.get(message_type=ad_hoc, channel="sms")
    make_client()
    client.force_login(manager)
    too_long = client.post(
        reverse("messaging:send"),
        send_data(ad_hoc, **{edit_key(ad_hoc, "sms", "sms_body"): "x" * 1601}),
        HTTP_HX_REQUEST="true",
    )
    assert "at most 1,600 can be sent" in too_long.content.decode() and not Broadcast.objects.exists()
    unknown = client.post(
        reverse("messaging:send"),
        send_data(ad_hoc, **{edit_key(ad_hoc, "sms", "sms_body"): "Hi {{ diagnosis }}"}),
        HTTP_HX_REQUEST="true",
    )
    assert "unknown placeholder" in unknown.content.decode() and not Broadcast.objects.exists()
    client.post(
        reverse("messaging:send"),
        send_data(ad_hoc, **{edit_key(ad_hoc, "sms", "sms_body"): template.sms_body.replace("\n", "\r\n")}),
        HTTP_HX_REQUEST="true",
    )
    delivery = Delivery.objects.get()
    assert delivery.template_version.broadcast_id is None  # the text as the template says it


def test_a_letter_length_email_for_one_send_goes_as_plain_text(client, manager, _no_dispatch):
    from clients.tests.factories import make_client
    from messaging.models import Delivery

    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    make_client(email="ana@example.org")
    client.force_login(manager)
    letter = "Dear {{ first_name }},\n\n" + "We are moving to a new office. " * 600
    assert 18_000 < len(letter) <= 20_000
    client.post(
        reverse("messaging:send"),
        send_data(
            ad_hoc,
            channels=["email"],
            **{
                edit_key(ad_hoc, "email", "email_subject"): "Our new office",
                edit_key(ad_hoc, "email", "email_text"): letter,
            },
        ),
        HTTP_HX_REQUEST="true",
    )
    version = Delivery.objects.get().template_version
    assert version.broadcast_id is not None and version.email_text == letter and version.email_html == ""
    assert version.email_subject == "Our new office"


def test_a_changed_text_with_the_same_key_is_another_broadcast(client, manager, _no_dispatch):
    from clients.tests.factories import make_client
    from messaging.models import Broadcast

    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    make_client()
    client.force_login(manager)
    for text in ("First words {{ first_name }}", "First words {{ first_name }}", "Other words"):
        client.post(
            reverse("messaging:send"),
            send_data(ad_hoc, **{edit_key(ad_hoc, "sms", "sms_body"): text}),
            HTTP_HX_REQUEST="true",
        )
    assert Broadcast.objects.count() == 2


def test_the_editor_lists_the_latest_versions_and_all_on_request(client, manager):
    from messaging.content import version_for

    message_type = make_type()
    template = MessageTemplate.objects.create(message_type=message_type, channel="sms", sms_body="v")
    for n in range(55):
        template.sms_body = f"Text number {n}"
        template.save()
        version_for(template)
    client.force_login(manager)
    url = reverse("messaging:templates-edit", args=[message_type.pk, "sms"])
    page = client.get(url).content.decode()
    assert page.count('data-version="') == 50 and "Showing the latest 50 of 55 versions" in page
    assert client.get(url, {"versions": "all"}).content.decode().count('data-version="') == 55


def test_an_edited_voice_script_is_read_out_instead_of_the_recording(client, manager, _no_dispatch, settings, tmp_path):
    from django.core.files.base import ContentFile

    from clients.tests.factories import make_client
    from messaging.models import Delivery
    from messaging.one_off import RECORDING_NOT_PLAYED

    settings.MEDIA_ROOT = str(tmp_path)
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    template, _ = MessageTemplate.objects.get_or_create(message_type=ad_hoc, channel="voice", language="en")
    template.voice_script = "Hello from the practice."
    template.voice_audio.save("hello.wav", ContentFile(wav_bytes()), save=True)
    make_client(first_name="Ana")
    client.force_login(manager)
    key = edit_key(ad_hoc, "voice", "voice_script")
    data = send_data(ad_hoc, channels=["voice"], **{key: "The office is closed on Friday."})
    page = client.post(reverse("messaging:preview"), data).content.decode()
    assert escape(RECORDING_NOT_PLAYED) in page  # said before anyone sends
    assert client.post(reverse("messaging:send"), data, HTTP_HX_REQUEST="true").status_code == 200
    version = Delivery.objects.get(channel="voice").template_version
    assert version.broadcast_id is not None and version.voice_script == "The office is closed on Friday."
    assert not version.voice_audio  # the call reads the edited script; the recording is not played
    template.refresh_from_db()
    assert template.voice_audio  # the template keeps its recording


def test_uploads_never_confirmed_are_deleted_after_a_day(settings, tmp_path):
    import datetime as dt
    import os

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from messaging import template_services as svc
    from messaging.beat import RECORDINGS_TASK_NAME, ensure_periodic_tasks
    from messaging.recordings import inspect_recording

    settings.MEDIA_ROOT = str(tmp_path)
    recording = inspect_recording(wav_bytes(), "hello.wav")
    old = svc.recording_stage(data=wav_bytes(), recording=recording)
    new = svc.recording_stage(data=wav_bytes(), recording=recording)
    day_ago = (dt.datetime.now() - dt.timedelta(hours=25)).timestamp()
    os.utime(default_storage.path(old), (day_ago, day_ago))
    kept = default_storage.save("voice/kept.wav", ContentFile(wav_bytes()))  # a confirmed recording
    assert svc.discard_stale_recordings(now=timezone.now()) == 1
    assert not default_storage.exists(old) and default_storage.exists(new) and default_storage.exists(kept)
    ensure_periodic_tasks()
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name=RECORDINGS_TASK_NAME)
    assert (task.task, task.interval.every, task.interval.period) == ("messaging.discard_stale_recordings", 1, "hours")
