"""The e-mail webhooks fail closed (issue 13, rows 1 and 2).

* No ``ANYMAIL_WEBHOOK_SECRET``: every request is refused (401 / 403) and nothing changes; outside
  demo mode and tests the system check stops start-up (also in ``check --deploy``).
* Only the configured ESPs are mounted; the others are 404 (they were 500 for an anonymous ``{}``).
* A payload anymail cannot read, with valid credentials, is a 400 with one log line (never a 500),
  and changes nothing.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from anymail import urls as anymail_urls
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, override_settings
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bounces.models import DoNotSendEntry
from messaging.channels.email.tests.test_tracking import load
from messaging.models import ProviderEvent

pytestmark = pytest.mark.django_db

SECRET = "pimsy-test:webhook-secret-1"
# The test settings' ANYMAIL_WEBHOOK_ESPS: "amazon_ses,brevo:tracking,mailgun,postmark,sparkpost".
TEST_ESPS = {"amazon_ses", "brevo", "mailgun", "postmark", "sparkpost"}
LOGGER = "messaging.channels.email.webhooks"


def auth(secret: str = SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def anymail_with(**changes: Any) -> dict[str, Any]:
    """The test settings' ANYMAIL with ``changes`` (a value of None removes the key)."""
    merged = {**settings.ANYMAIL, "WEBHOOK_SECRET": [SECRET], **changes}
    return {k: v for k, v in merged.items() if v is not None}


def esp_of(pattern: Any) -> str:
    return str(pattern.pattern).lstrip("^").split("/", 1)[0]


def is_test_endpoint(pattern: Any) -> bool:
    return esp_of(pattern) in TEST_ESPS and pattern.name != "brevo_inbound_webhook"


def url_of(pattern: Any) -> str:
    return "/anymail/" + str(pattern.pattern).lstrip("^").replace("(_mime)?", "").rstrip("$")


def nothing_changed() -> bool:
    return not ProviderEvent.objects.exists() and not DoNotSendEntry.objects.exists()


MOUNTED_URLS = sorted(url_of(p) for p in anymail_urls.urlpatterns if is_test_endpoint(p))
UNCONFIGURED_URLS = sorted(url_of(p) for p in anymail_urls.urlpatterns if not is_test_endpoint(p))


# --- Row 1: no secret, no entry -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "status"), [({}, 401), (auth(), 403), (auth("anyone:anything"), 403)], ids=["none", "old", "any"]
)
def test_without_a_configured_secret_every_request_is_refused(credentials: dict[str, str], status: int) -> None:
    hard_bounce = json.dumps(load("postmark", "hard", ""))
    with override_settings(ANYMAIL=anymail_with(WEBHOOK_SECRET=None)):
        response = Client().post(
            "/anymail/postmark/tracking/", data=hard_bounce, content_type="application/json", **credentials
        )
    assert response.status_code == status
    assert nothing_changed()


def test_the_probe_s_three_unauthenticated_posts_change_nothing() -> None:
    """SendGrid spamreport and bounce, Postmark HardBounce: they put three addresses on the DNS list."""
    posts = [
        ("/anymail/sendgrid/tracking/", [{"event": "spamreport", "email": "a@example.org", "sg_event_id": "e1"}]),
        ("/anymail/sendgrid/tracking/", [{"event": "bounce", "email": "b@example.org", "sg_event_id": "e2"}]),
        ("/anymail/postmark/tracking/", {"RecordType": "Bounce", "Type": "HardBounce", "Email": "c@example.org"}),
    ]
    client = Client(raise_request_exception=False)
    with override_settings(ANYMAIL=anymail_with(WEBHOOK_SECRET=None)):
        statuses = [
            client.post(url, json.dumps(body), content_type="application/json").status_code for url, body in posts
        ]
    assert statuses == [404, 404, 401]
    assert nothing_changed()


def test_a_missing_secret_is_a_start_up_error_outside_demo_and_tests() -> None:
    from messaging.channels.email.checks import webhook_secret_check

    assert webhook_secret_check() == []
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    for backend in ("anymail.backends.postmark.EmailBackend", smtp):  # plain SMTP too: fail closed
        with override_settings(ANYMAIL={}, TESTING=False, DEMO_MODE=False, DEBUG=True, EMAIL_BACKEND=backend):
            errors = webhook_secret_check()
        assert [e.id for e in errors] == ["messaging.E001"] and errors[0].is_serious()
    with override_settings(ANYMAIL={}, DEMO_MODE=True):
        warnings = webhook_secret_check()
    assert [e.id for e in warnings] == ["messaging.W001"] and not warnings[0].is_serious()


def test_check_deploy_reports_the_missing_secret() -> None:
    no_secret = override_settings(ANYMAIL=anymail_with(WEBHOOK_SECRET=None), TESTING=False, DEMO_MODE=False)
    with no_secret, pytest.raises(SystemCheckError, match="messaging.E001"):
        call_command("check", "--deploy", "--tag", "security")
    with override_settings(ANYMAIL=anymail_with(), TESTING=False, DEMO_MODE=False):
        call_command("check", "--deploy", "--tag", "security", "--fail-level", "ERROR")


# --- Row 2: mount only what is configured ------------------------------------------------------------


def test_only_the_configured_endpoints_are_mounted() -> None:
    from messaging.channels.email.webhooks import webhook_urlpatterns

    def mounted(backend: str = "django.core.mail.backends.smtp.EmailBackend", esps: str = "") -> set[str]:
        with override_settings(EMAIL_BACKEND=backend, ANYMAIL={"WEBHOOK_ESPS": esps}):
            return {str(p.name) for p in webhook_urlpatterns()}

    # The ESP mail goes out through: its tracking webhook (bounces, complaints).
    assert mounted("anymail.backends.postmark.EmailBackend") == {"postmark_tracking_webhook"}
    assert mounted() == set()  # plain SMTP, nothing listed
    # Listed: both kinds, or one.
    assert mounted(esps=" Postmark:inbound, sparkpost") == {
        "postmark_inbound_webhook",
        "sparkpost_inbound_webhook",
        "sparkpost_tracking_webhook",
    }
    assert mounted("anymail.backends.mailgun.EmailBackend", "mailgun:inbound") == {
        "mailgun_tracking_webhook",
        "mailgun_inbound_webhook",
    }
    assert mounted(esps="mandrill:inbound") == {"mandrill_webhook", "mandrill_tracking_webhook"}  # one view, both


@pytest.mark.parametrize("url", UNCONFIGURED_URLS)
def test_an_unconfigured_esp_has_no_url(url: str) -> None:
    with pytest.raises(Resolver404):
        resolve(url)
    response = Client(raise_request_exception=False).post(url, "{}", content_type="application/json")
    assert response.status_code == 404
    assert nothing_changed()


@pytest.mark.parametrize("url", MOUNTED_URLS)
def test_every_mounted_url_needs_the_secret(url: str) -> None:
    client = Client(raise_request_exception=False)
    assert client.post(url, "{}", content_type="application/json").status_code == 401
    assert client.post(url, "{}", content_type="application/json", **auth("pimsy-test:guess")).status_code == 403
    assert client.head(url).status_code == 200  # an ESP checking the address; changes nothing
    assert nothing_changed()


def test_a_misconfigured_or_unknown_esp_fails_the_check() -> None:
    from messaging.channels.email.checks import webhook_esp_check

    assert webhook_esp_check() == []
    for listed in ("postmark,nosuchesp", "postmark:outbound"):
        with override_settings(ANYMAIL=anymail_with(WEBHOOK_ESPS=listed)):
            assert [e.id for e in webhook_esp_check()] == ["messaging.E003"]
    with override_settings(ANYMAIL=anymail_with(WEBHOOK_ESPS="brevo")):  # its inbound needs BREVO_API_KEY
        assert [e.id for e in webhook_esp_check()] == ["messaging.E002"]
    with override_settings(ANYMAIL=anymail_with(WEBHOOK_ESPS="mailgun", MAILGUN_WEBHOOK_SIGNING_KEY=None)):
        problems = webhook_esp_check()
    assert {e.id for e in problems} == {"messaging.E002"} and all(e.is_serious() for e in problems)


# --- Row 2: bad payloads with valid credentials ---------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
UNREADABLE: list[str | bytes] = ["{not json", DEEP, b'{"Email": "\xff\xfe"}']
ODD = ["{}", "[]", '"text"', "null", "17", '{"RecordType": "Bounce"}', '{"event": "bounced"}', '[{"event": 1}]']


def post_with_auth(url: str, body: str | bytes, **extra: Any) -> Any:
    client = Client(raise_request_exception=False)
    headers = {**auth(), **extra}
    if url.startswith("/anymail/amazon_ses/"):  # SNS headers, else anymail stops at them
        headers |= {"HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification", "HTTP_X_AMZ_SNS_MESSAGE_ID": "m-1"}
    return client.post(url, body, content_type="application/json", **headers)


@pytest.mark.parametrize("body", range(len(UNREADABLE)), ids=["malformed", "deep", "undecodable"])
@pytest.mark.parametrize("url", MOUNTED_URLS)
def test_an_unreadable_payload_is_400_with_one_log_line(url: str, body: int, caplog: Any) -> None:
    with caplog.at_level(logging.INFO):
        response = post_with_auth(url, UNREADABLE[body])
    assert response.status_code in (400, 403)  # 403: Mailgun's signature, read before the payload
    assert nothing_changed()
    records = [r for r in caplog.records if r.name in (LOGGER, "django.request")]
    assert [r.name for r in records] == [LOGGER], [r.getMessage() for r in records]


@pytest.mark.parametrize("body", ODD)
@pytest.mark.parametrize("url", MOUNTED_URLS)
def test_an_odd_payload_is_never_a_500(url: str, body: str) -> None:
    response = post_with_auth(url, body)
    assert response.status_code in (200, 400, 403)
    if response.status_code != 200:
        assert nothing_changed()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.just("nul \x00"),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(["RecordType", "Type", "Email", "event", "msys", "message-id", "recipient", "Message"])
SHAPED = st.dictionaries(KEYS, JSON, max_size=5)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(url=st.sampled_from(MOUNTED_URLS), payload=JSON | SHAPED | st.lists(SHAPED, max_size=3))
def test_generated_payloads_are_never_a_500(url: str, payload: Any) -> None:
    before = (ProviderEvent.objects.count(), DoNotSendEntry.objects.count())
    response = post_with_auth(url, json.dumps(payload))
    assert response.status_code < 500
    if response.status_code >= 400:
        assert (ProviderEvent.objects.count(), DoNotSendEntry.objects.count()) == before
