"""The New tab's preview of a text: the body, its segments and encoding, and what to check."""

from __future__ import annotations

from typing import Any

from messaging.channels.sms.spec import SPEC
from messaging.sms_segments import clinical_warning, sms_info, sms_warnings


def preview(rendered: Any, template: Any) -> tuple[dict[str, Any], list[str]]:
    info = sms_info(rendered.sms_body)
    warnings = [*sms_warnings(info), clinical_warning(rendered.sms_body, SPEC.clinical_check_place)]
    return {"body": rendered.sms_body, "source": template.sms_body, "sms": info}, warnings


def record(rendered: Any) -> dict[str, Any]:
    """Kept with the text: how it was encoded and how many segments it was billed as."""
    info = sms_info(rendered.sms_body)
    return {"encoding": info.encoding, "segments": info.segments}
