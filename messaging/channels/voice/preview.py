"""The New tab's preview of a call: the script read aloud, or the recording played."""

from __future__ import annotations

from typing import Any

from messaging.channels.voice.spec import SPEC
from messaging.sms_segments import clinical_warning


def preview(rendered: Any, template: Any) -> tuple[dict[str, Any], list[str]]:
    fields = {"body": rendered.voice_script, "source": template.voice_script, "audio": rendered.voice_audio_url}
    # A recording is played as recorded: the script's words are not what the voicemail says.
    warnings = [] if rendered.voice_audio_url else [clinical_warning(rendered.voice_script, SPEC.clinical_check_place)]
    return fields, warnings


def record(rendered: Any) -> dict[str, Any]:
    """Kept with the script: the recording played instead, if any (file name and SHA-256)."""
    if not rendered.voice_audio_url:
        return {}
    return {"audio": rendered.voice_audio_name[:255], "audio_sha256": rendered.voice_audio_sha256}
