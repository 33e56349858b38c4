"""The one place that builds ``twilio.rest.Client`` objects for SMS and voice.

With ``api_base`` (setting ``TWILIO_API_BASE``, e.g. ``http://127.0.0.1:8025``) every request
the real client would send to ``https://api.twilio.com`` (or any other ``*.twilio.com`` host,
so nothing can leak to the real provider) goes to that base URL instead: the local Twilio
simulator in the demo and the integration tests. Everything else — authentication, form
encoding, response parsing, ``TwilioRestException`` — is the real twilio-python code path.

Clients are cached per process and per (account SID, auth token, api_base, timeout) so the
underlying ``requests.Session`` pools its connections.
"""

from __future__ import annotations

import re
import threading

from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

DEFAULT_TIMEOUT_SECONDS = 15.0
_TWILIO_ORIGIN = re.compile(r"^https://(?:[A-Za-z0-9-]+\.)*twilio\.com(?::443)?(?=/|$)")

_cache: dict[tuple[str, str, str | None, float | None], Client] = {}
_cache_lock = threading.Lock()


def rewrite_url(url: str, api_base: str) -> str:
    """``https://api.twilio.com/2010-04-01/…`` → ``{api_base}/2010-04-01/…``."""
    return _TWILIO_ORIGIN.sub(api_base.rstrip("/"), url, count=1)


class RedirectingHttpClient(TwilioHttpClient):
    """The stock ``TwilioHttpClient`` with the Twilio origin replaced by ``api_base``."""

    def __init__(self, api_base: str, *, timeout: float | None = DEFAULT_TIMEOUT_SECONDS):
        super().__init__(timeout=timeout)
        self.api_base = api_base.rstrip("/")
        if self.session is not None and self.api_base.startswith("http://"):
            # The stock client only sizes the https pool; give plain http the same pool.
            pool = 32  # one connection per worker thread, up to Celery's usual thread counts
            self.session.mount("http://", HTTPAdapter(pool_maxsize=pool))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method,
            rewrite_url(url, self.api_base),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def get_twilio_client(
    *,
    account_sid: str,
    auth_token: str,
    api_base: str | None,
    timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
) -> Client:
    """A cached Twilio client; requests go to ``api_base`` when it is set (non-empty)."""
    base = api_base.rstrip("/") if api_base else None
    key = (account_sid, auth_token, base, timeout)
    with _cache_lock:
        client = _cache.get(key)
        if client is None:
            http_client = RedirectingHttpClient(base, timeout=timeout) if base else TwilioHttpClient(timeout=timeout)
            client = Client(account_sid, auth_token, http_client=http_client)
            _cache[key] = client
        return client


def clear_twilio_client_cache() -> None:
    """Forget cached clients (tests that change credentials or the base URL)."""
    with _cache_lock:
        _cache.clear()
