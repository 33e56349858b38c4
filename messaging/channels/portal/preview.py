"""The New tab's preview of a portal message: its subject and text, as the inbox will show them."""

from __future__ import annotations

from typing import Any


def preview(rendered: Any, template: Any) -> tuple[dict[str, Any], list[str]]:
    # The portal is the secure place for clinical details: no clinical-word warning here; the
    # notice that goes by the preferred channel carries none.
    return {"subject": rendered.email_subject, "body": rendered.email_text, "source": template.email_text}, []
