"""HTTP client for a fax API in the Sinch Fax v3 shape (there is no Python SDK: plain HTTP).

* ``POST {base}/v3/projects/{projectId}/faxes`` – multipart form with ``to``, ``callbackUrl``,
  ``callbackUrlContentType`` and the PDF as ``file``; answers the fax object (``id``, ``status``
  ``QUEUED`` …). Outcome arrives later as a ``FAX_COMPLETED`` callback.
* ``GET {base}/v3/projects/{projectId}/faxes/{id}`` – the fax object's current state.

Authentication is HTTP basic with an access key (key id : key secret), which Sinch accepts
besides OAuth2. Errors become :class:`FaxApiError`; ``retryable`` is true for 429, 5xx and
network failures. A read timeout is reported as retryable too, but it is ambiguous (the fax may
have been accepted), which ``code == "read_timeout"`` lets the caller tell apart.
"""

from __future__ import annotations

from typing import Any

import requests

DEFAULT_TIMEOUT_SECONDS = 20.0


class FaxApiError(Exception):
    """A failed fax API call: HTTP status (None for network errors), provider code, message."""

    def __init__(self, status: int | None, code: str | int | None, message: str, retryable: bool):
        super().__init__(f"fax API error {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable


class FaxApiClient:
    """A small, thread-compatible client (one ``requests.Session`` per client)."""

    def __init__(
        self,
        base_url: str,
        project_id: str,
        key_id: str,
        key_secret: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ):
        self.base_url = base_url.rstrip("/")
        self.project_id = project_id
        self.timeout = timeout
        self.session = requests.Session()
        self.session.auth = (key_id, key_secret)
        self.session.headers["Accept"] = "application/json"

    @property
    def faxes_url(self) -> str:
        return f"{self.base_url}/v3/projects/{self.project_id}/faxes"

    def send_fax(self, *, to: str, pdf: bytes, filename: str, callback_url: str) -> dict[str, Any]:
        """Submit one PDF for faxing to ``to`` (E.164); returns the provider's fax object."""
        fields = {
            "to": to,
            "callbackUrl": callback_url,
            "callbackUrlContentType": "application/json",
        }
        files = {"file": (filename, pdf, "application/pdf")}
        return self._call("POST", self.faxes_url, data=fields, files=files)

    def get_fax(self, fax_id: str) -> dict[str, Any]:
        return self._call("GET", f"{self.faxes_url}/{fax_id}")

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ReadTimeout as exc:
            raise FaxApiError(None, "read_timeout", str(exc), retryable=True) from exc
        except requests.RequestException as exc:
            raise FaxApiError(None, "connection_error", str(exc), retryable=True) from exc
        if response.status_code >= 400:
            raise _error_from(response)
        try:
            payload = response.json()
        except ValueError as exc:
            raise FaxApiError(
                response.status_code, "invalid_response", "response is not JSON", retryable=False
            ) from exc
        if not isinstance(payload, dict):
            raise FaxApiError(response.status_code, "invalid_response", "expected a JSON object", False)
        return payload


def _error_from(response: requests.Response) -> FaxApiError:
    """Parse ``{"code", "message", "status"}`` (optionally under ``"error"``) into an error."""
    status = response.status_code
    code: str | int | None = None
    message = response.reason or f"HTTP {status}"
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        body = payload.get("error") if isinstance(payload.get("error"), dict) else payload
        code = body.get("status") or body.get("code")
        message = str(body.get("message") or message)
    retryable = status == 429 or status >= 500
    return FaxApiError(status, code, message, retryable)
