"""The New tab's preview of a fax: the text the PDF is made from."""

from __future__ import annotations

from typing import Any


def preview(rendered: Any, template: Any) -> tuple[dict[str, Any], list[str]]:
    return {"body": rendered.fax_text, "source": template.fax_body}, []
