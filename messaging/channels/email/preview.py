"""The New tab's preview of an e-mail: subject and text (the subject shows in any inbox list)."""

from __future__ import annotations

from typing import Any

from messaging.channels.email.spec import SPEC
from messaging.sms_segments import clinical_warning


def preview(rendered: Any, template: Any) -> tuple[dict[str, Any], list[str]]:
    fields = {"subject": rendered.email_subject, "body": rendered.email_text, "source": template.email_text}
    return fields, [clinical_warning(rendered.email_subject, SPEC.clinical_check_place)]
