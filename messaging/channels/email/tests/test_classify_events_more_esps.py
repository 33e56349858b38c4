"""classify_tracking_event with events built by anymail's own webhook converters (continued from
test_classify_events.py): SparkPost, Brevo, SendGrid, Mailjet, Mandrill, Resend, Postal, MailerSend,
Unisender Go, and odd or partial events that must not raise.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from anymail.signals import AnymailTrackingEvent
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailersend import MailerSendTrackingWebhookView
from anymail.webhooks.mailjet import MailjetTrackingWebhookView
from anymail.webhooks.mandrill import MandrillCombinedWebhookView
from anymail.webhooks.postal import PostalTrackingWebhookView
from anymail.webhooks.resend import ResendTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from anymail.webhooks.sparkpost import SparkPostTrackingWebhookView
from anymail.webhooks.unisender_go import UnisenderGoTrackingWebhookView

from messaging.channels.email.esp import classify_tracking_event
from messaging.channels.email.tests.esp_events import RCPT, converter, expect_classified

# --- SparkPost ------------------------------------------------------------------------------


def sparkpost(event_type: str, bounce_class: str | None = None, reason: str = "", **extra: Any) -> AnymailTrackingEvent:
    event = {
        "type": event_type,
        "campaign_id": "reminders",
        "customer_id": "1",
        "event_id": "92356927693813856",
        "message_id": "000443ee14578172be22",
        "rcpt_to": RCPT,
        "raw_rcpt_to": RCPT,
        "rcpt_meta": {"delivery_id": "42"},
        "timestamp": "1731438191",
        "transmission_id": "65832150921904138",
        **extra,
    }
    if bounce_class is not None:
        event.update(bounce_class=bounce_class, raw_reason=reason, reason=reason, error_code=reason[:3])
    event_class = "track_event" if event_type in {"open", "click"} else "message_event"
    if event_type.endswith("unsubscribe"):
        event_class = "unsubscribe_event"
    raw = {"msys": {event_class: event}}
    return converter(SparkPostTrackingWebhookView).esp_to_anymail_event(event_class, event, raw)


@pytest.mark.parametrize(
    ("event", "category", "hard"),
    [
        (
            sparkpost("bounce", "10", "550 5.1.1 <patient@example.org>: Recipient address rejected: User unknown"),
            "Bad-Mailbox",
            True,
        ),
        (sparkpost("bounce", "22", "552 5.2.2 Mailbox full"), "Quota-Issues", False),
        (
            sparkpost("policy_rejection", "25", "550 5.7.1 Recipient address was suppressed due to customer policy"),
            "DNS",
            True,
        ),
        (
            sparkpost("policy_rejection", "25", "554 5.7.1 Exceeded Sending Limit (monthly)"),
            "Bad-Configuration",
            False,
        ),
        (
            sparkpost(
                "bounce",
                "51",
                "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            ),
            "Spam-Related",
            False,
        ),
        (sparkpost("bounce", "54", "550 5.7.1 Relaying denied"), "Relaying-Issues", False),
        (sparkpost("out_of_band", "10", "550 5.1.1 user unknown"), "Bad-Mailbox", True),
        (sparkpost("delay", "21", "451 4.4.0 DNS resolution failed for example.org"), "Routing-Errors", False),
        (sparkpost("delay", None, num_retries="2", raw_reason="452 4.2.2 Over quota"), "Quota-Issues", False),
        (sparkpost("spam_complaint", fbtype="abuse"), "DNS", True),
        (sparkpost("list_unsubscribe"), "DNS", True),
        (
            sparkpost("generation_failure", error_code="1902", raw_reason="Generation rendering failed"),
            "Bad-Configuration",
            False,
        ),
        (sparkpost("delivery", raw_reason="250 2.0.0 OK"), None, None),
        (sparkpost("open"), None, None),
    ],
)
def test_sparkpost(event: AnymailTrackingEvent, category: str | None, hard: bool | None) -> None:
    expect_classified(event, category, hard)


# --- Brevo ----------------------------------------------------------------------------------


def brevo(event: str, reason: str | None = None) -> AnymailTrackingEvent:
    raw = {
        "event": event,
        "email": RCPT,
        "id": 1234567,
        "date": "2024-11-12 20:03:11",
        "ts": 1731438191,
        "message-id": "<202411121903.12345678901@smtp-relay.mailin.fr>",
        "ts_event": 1731438191,
        "subject": "Appointment reminder",
        "tag": '["reminder"]',
        "sending_ip": "185.41.28.109",
        "ts_epoch": 1731438191000,
        "tags": ["reminder"],
        "X-Mailin-custom": '{"delivery_id": "42"}',
    }
    if reason is not None:
        raw["reason"] = reason
    return converter(BrevoTrackingWebhookView).esp_to_anymail_event(raw)


@pytest.mark.parametrize(
    ("event", "category", "hard"),
    [
        (
            brevo("hard_bounce", "550 5.1.1 <patient@example.org>: Recipient address rejected: User unknown"),
            "Bad-Mailbox",
            True,
        ),
        (brevo("hard_bounce", "550 Requested action not taken: mailbox unavailable"), "Bad-Mailbox", True),
        (brevo("soft_bounce", "452 4.2.2 Mailbox full"), "Quota-Issues", False),
        (brevo("soft_bounce", "550 5.1.1 user unknown"), "Routing-Errors", False),
        (brevo("blocked", "blocked : due to blacklist user"), "DNS", True),
        (brevo("invalid_email"), "Bad-Mailbox", True),
        (
            brevo("deferred", "421 4.7.0 [TSS04] Messages temporarily deferred due to user complaints"),
            "Spam-Related",
            False,
        ),
        (brevo("error", "Template rendering error"), "Bad-Configuration", False),
        (brevo("spam"), "DNS", True),
        (brevo("unsubscribe"), "DNS", True),
        (brevo("delivered"), None, None),
        (brevo("request"), None, None),
        (brevo("unique_opened"), None, None),
    ],
)
def test_brevo(event: AnymailTrackingEvent, category: str | None, hard: bool | None) -> None:
    expect_classified(event, category, hard)


# --- SendGrid -------------------------------------------------------------------------------


def sendgrid(event: str, **fields: Any) -> AnymailTrackingEvent:
    raw = {
        "email": RCPT,
        "timestamp": 1731438191,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": event,
        "category": ["reminder"],
        "sg_event_id": "sg_event_id_1",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "delivery_id": "42",
        **fields,
    }
    # (SendGrid support was dropped by anymail, but its converter still works)
    return converter(SendGridTrackingWebhookView).esp_to_anymail_event(raw)


@pytest.mark.parametrize(
    ("event", "category", "hard"),
    [
        (
            sendgrid(
                "bounce",
                reason="550 5.1.1 The email account that you tried to reach does not exist.",
                status="5.1.1",
                type="bounce",
                bounce_classification="Invalid Address",
            ),
            "Bad-Mailbox",
            True,
        ),
        (
            sendgrid(
                "bounce",
                reason="554 5.7.1 Service unavailable; Client host [167.89.0.1] blocked using Barracuda Reputation",
                status="5.7.1",
                type="blocked",
                bounce_classification="Reputation",
            ),
            "Spam-Related",
            False,
        ),
        (
            sendgrid("deferred", response="451 4.7.1 Greylisted, please try again later", attempt="1"),
            "Policy-Related",
            False,
        ),
        (sendgrid("dropped", reason="Bounced Address", status="5.0.0"), "DNS", True),
        (sendgrid("dropped", reason="Unsubscribed Address", status="5.0.0"), "DNS", True),
        (sendgrid("dropped", reason="Invalid", status="5.0.0"), "Bad-Mailbox", True),
        (sendgrid("spamreport"), "DNS", True),
        (sendgrid("unsubscribe"), "DNS", True),
        (sendgrid("delivered", response="250 OK"), None, None),
        (sendgrid("processed"), None, None),
    ],
)
def test_sendgrid(event: AnymailTrackingEvent, category: str | None, hard: bool | None) -> None:
    expect_classified(event, category, hard)


# --- Mailjet --------------------------------------------------------------------------------


def mailjet(event: str, **fields: Any) -> AnymailTrackingEvent:
    raw = {
        "event": event,
        "time": 1731438191,
        "MessageID": 19421777835146490,
        "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2j",
        "email": RCPT,
        "mj_campaign_id": 7173,
        "mj_contact_id": 320,
        "customcampaign": "",
        "CustomID": "",
        "Payload": '{"delivery_id": "42"}',
        **fields,
    }
    return converter(MailjetTrackingWebhookView).esp_to_anymail_event(raw)


@pytest.mark.parametrize(
    ("event", "category", "hard"),
    [
        (
            mailjet(
                "bounce",
                blocked=False,
                hard_bounce=True,
                error_related_to="recipient",
                error="user unknown",
                comment="550 5.1.1 <patient@example.org>: Recipient address rejected: User unknown",
            ),
            "Bad-Mailbox",
            True,
        ),
        (
            mailjet("bounce", blocked=False, hard_bounce=True, error_related_to="domain", error="invalid domain"),
            "Bad-Domain",
            True,
        ),
        (
            mailjet(
                "bounce",
                blocked=False,
                hard_bounce=False,
                error_related_to="recipient",
                error="quota exceeded",
                comment="452 4.2.2 Mailbox full",
            ),
            "Quota-Issues",
            False,
        ),
        (
            mailjet(
                "bounce",
                hard_bounce=False,
                error_related_to="domain",
                error="greylisted",
                comment="450 4.7.1 Greylisted",
            ),
            "Policy-Related",
            False,
        ),
        (mailjet("blocked", error_related_to="recipient", error="preblocked"), "DNS", True),
        (mailjet("blocked", error_related_to="recipient", error="blacklisted"), "DNS", True),
        (mailjet("blocked", error_related_to="content", error="content blocked"), "Content-Related", False),
        (mailjet("spam", source="JMRPP"), "DNS", True),
        (mailjet("unsub", mj_list_id=1, ip="192.0.2.1", geo="US", agent="Mozilla/5.0"), "DNS", True),
        (mailjet("sent", mj_message_id="19421777835146490", smtp_reply="sent (250 2.0.0 OK)"), None, None),
    ],
)
def test_mailjet(event: AnymailTrackingEvent, category: str | None, hard: bool | None) -> None:
    expect_classified(event, category, hard)


# --- Mandrill, Resend, Postal, MailerSend, Unisender Go -----------------------------------------


def mandrill(event: str, **msg: Any) -> AnymailTrackingEvent:
    raw = {
        "event": event,
        "_id": "01234567890123456789012345678901",
        "ts": 1731438191,
        "msg": {
            "ts": 1731438189,
            "_id": "01234567890123456789012345678901",
            "state": "bounced",
            "subject": "Appointment reminder",
            "email": RCPT,
            "tags": [],
            "smtp_events": [],
            "metadata": {"delivery_id": "42"},
            "sender": "reminders@pimsy-clinic.example",
            **msg,
        },
    }
    return converter(MandrillCombinedWebhookView).mandrill_tracking_to_anymail_event(raw)


def resend(kind: str, bounce: dict[str, Any] | None = None) -> AnymailTrackingEvent:
    data: dict[str, Any] = {
        "created_at": "2024-11-12T19:03:09.982Z",
        "email_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "from": "Sunrise <reminders@pimsy-clinic.example>",
        "subject": "Appointment reminder",
        "to": [RCPT],
    }
    if bounce is not None:
        data["bounce"] = bounce
    raw = {"type": kind, "created_at": "2024-11-12T19:03:11.101Z", "data": data}
    return converter(ResendTrackingWebhookView).esp_to_anymail_event(raw, SimpleNamespace(headers={}))


def postal(event: str, status: str, output: str, details: str) -> AnymailTrackingEvent:
    raw = {
        "event": event,
        "timestamp": 1731438191.2,
        "uuid": "5c1e2a3b-4d5e-6f70-8192-a3b4c5d6e7f8",
        "payload": {
            "message": {
                "id": 12345,
                "token": "abcdef",
                "direction": "outgoing",
                "message_id": "5f2c1@pimsy-clinic.example",
                "to": RCPT,
                "from": "reminders@pimsy-clinic.example",
                "subject": "Appointment reminder",
                "timestamp": 1731438189.0,
                "spam_status": "NotChecked",
                "tag": "reminder",
            },
            "status": status,
            "details": details,
            "output": output,
            "sent_with_ssl": False,
            "timestamp": 1731438191.1,
            "time": 0.2,
        },
    }
    request = SimpleNamespace(body=json.dumps(raw).encode())
    return converter(PostalTrackingWebhookView).parse_events(request)[0]


def mailersend(kind: str, reason: str, readable: str) -> AnymailTrackingEvent:
    raw = {
        "type": f"activity.{kind}",
        "domain_id": "7z3m5jgrogdpyo6n",
        "created_at": "2024-11-12T19:03:11.000000Z",
        "webhook_id": "2351ndgwr4zqx8ko",
        "url": "https://pimsy-clinic.example/anymail/mailersend/tracking/",
        "data": {
            "object": "activity",
            "id": "62f1a9d5b3e0c2001a4f1234",
            "type": kind,
            "created_at": "2024-11-12T19:03:11.000000Z",
            "email": {
                "object": "email",
                "id": "62f1a9d5b3e0c2001a4f5678",
                "from": "reminders@pimsy-clinic.example",
                "subject": "Appointment reminder",
                "status": "rejected",
                "tags": None,
                "message": {"object": "message", "id": "62f1a9d5b3e0c2001a4f9abc"},
                "recipient": {"object": "recipient", "id": "62f1a9d5b3e0c2001a4fdef0", "email": RCPT},
            },
            "morph": {"object": "recipient_bounce", "reason": reason, "readable_reason": readable},
        },
    }
    return converter(MailerSendTrackingWebhookView).esp_to_anymail_event(raw)


def unisender(status: str, delivery_status: str, response: str) -> AnymailTrackingEvent:
    raw = {
        "email": RCPT,
        "status": status,
        "event_time": "2024-11-12 19:03:11",
        "job_id": "1a2b3c-4d5e6f",
        "metadata": {"delivery_id": "42"},
        "delivery_info": {
            "delivery_status": delivery_status,
            "destination_response": response,
            "user_agent": "",
            "ip": "",
        },
    }
    return converter(UnisenderGoTrackingWebhookView).esp_to_anymail_event(raw)


@pytest.mark.parametrize(
    ("event", "category", "hard"),
    [
        (
            mandrill(
                "hard_bounce",
                bounce_description="bad_mailbox",
                diag="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
                bgtools_code=10,
            ),
            "Bad-Mailbox",
            True,
        ),
        (mandrill("hard_bounce", bounce_description="invalid_domain", diag="", bgtools_code=21), "Bad-Domain", True),
        (
            mandrill(
                "soft_bounce",
                state="soft-bounced",
                bounce_description="mailbox_full",
                diag="smtp;552 5.2.2 Mailbox full",
            ),
            "Quota-Issues",
            False,
        ),
        (mandrill("deferral", state="deferred", diag="451 4.4.1 Connection timed out"), "No-Answer-From-Host", False),
        (mandrill("spam", state="sent"), "DNS", True),
        (mandrill("send", state="sent"), None, None),
        (
            resend(
                "email.bounced",
                {
                    "message": "Resend has suppressed sending to this address because it is on the account-level "
                    "suppression list. This does not count toward your bounce rate metric"
                },
            ),
            "DNS",
            True,
        ),
        (
            resend(
                "email.bounced",
                {
                    "message": "The recipient's email provider sent a hard bounce message, but didn't specify "
                    "the reason for the hard bounce."
                },
            ),
            "Bad-Mailbox",
            True,
        ),
        (
            resend(
                "email.bounced",
                {
                    "message": "The recipient's email provider sent a bounce message because the recipient's "
                    "inbox was full.",
                    "type": "Transient",
                    "subType": "MailboxFull",
                },
            ),
            "Quota-Issues",
            False,
        ),
        (resend("email.delivery_delayed"), "Other", False),
        (resend("email.complained"), "DNS", True),
        (resend("email.delivered"), None, None),
        (
            postal(
                "MessageDeliveryFailed",
                "HardFail",
                "550 5.1.1 The email account that you tried to reach does not exist.",
                "Permanent SMTP delivery error when sending to mx.example.org",
            ),
            "Bad-Mailbox",
            True,
        ),
        (
            postal("MessageDelayed", "SoftFail", "421 4.4.2 Connection dropped", "Temporary SMTP error, will retry"),
            "Bad-Connection",
            False,
        ),
        (postal("MessageSent", "Sent", "250 OK", "Message for patient@example.org accepted"), None, None),
        (mailersend("hard_bounced", "550 5.1.1 User unknown", "Mailbox does not exist"), "Bad-Mailbox", True),
        (mailersend("soft_bounced", "452 4.2.2 Mailbox full", "Mailbox is full"), "Quota-Issues", False),
        (
            unisender("hard_bounced", "err_user_unknown", "550 5.1.1 Recipient address rejected: User unknown"),
            "Bad-Mailbox",
            True,
        ),
        (unisender("soft_bounced", "err_mailbox_full", "452 4.2.2 Mailbox full"), "Quota-Issues", False),
        (unisender("hard_bounced", "err_unsubscribed", ""), "DNS", True),
        (unisender("delivered", "ok_delivered", "250 OK"), None, None),
    ],
)
def test_other_esps(event: AnymailTrackingEvent, category: str | None, hard: bool | None) -> None:
    expect_classified(event, category, hard)


# --- defensive handling ---------------------------------------------------------------------


def bare(event_type: Any, esp_event: Any = None, **fields: Any) -> AnymailTrackingEvent:
    return AnymailTrackingEvent(event_type=event_type, esp_event=esp_event, **fields)


@pytest.mark.parametrize(
    "esp_event",
    [None, "bounce", b"\xff\xfe", 42, [], [1, 2], {"msys": "oops"}, {"event-data": None}, {"RecordType": None}],
)
def test_odd_esp_events_do_not_raise(esp_event: Any) -> None:
    result = classify_tracking_event(bare("bounced", esp_event, mta_response="550 5.1.1 user unknown"))
    assert result is not None and result.category == "Bad-Mailbox"


def test_http_request_esp_event() -> None:
    from django.test import RequestFactory

    request = RequestFactory().post(
        "/anymail/x/tracking/",
        data=json.dumps({"event": "hard_bounce", "email": RCPT, "ts_epoch": 1731438191000}),
        content_type="application/json",
    )
    assert classify_tracking_event(bare("bounced", request)).category == "Bad-Mailbox"  # type: ignore[union-attr]
    form = RequestFactory().post("/anymail/x/tracking/", data={"event": "bounced", "code": "552", "token": "t"})
    assert classify_tracking_event(bare("bounced", form)).category == "Quota-Issues"  # type: ignore[union-attr]


def test_non_events_and_partial_objects() -> None:
    for event_type in ("queued", "sent", "delivered", "opened", "clicked", "autoresponded", "subscribed", "unknown"):
        assert classify_tracking_event(bare(event_type, {"event": "bounce"})) is None
    assert classify_tracking_event(bare(None)) is None
    assert classify_tracking_event(SimpleNamespace()) is None
    assert classify_tracking_event(object()) is None
    assert classify_tracking_event(SimpleNamespace(event_type="deferred")).category == "Other"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("event_type", "reject_reason", "category", "hard"),
    [
        ("rejected", "invalid", "Bad-Mailbox", True),
        ("rejected", "bounced", "DNS", True),
        ("rejected", "unsubscribed", "DNS", True),
        ("rejected", "blocked", "DNS", True),
        ("rejected", "other", "Other", False),
        ("failed", None, "Bad-Configuration", False),
        ("bounced", "timed_out", "Message-Expired", False),
        ("bounced", None, "Other", False),
        ("deferred", None, "Other", False),
    ],
)
def test_reject_reason_fallback(event_type: str, reject_reason: str | None, category: str, hard: bool) -> None:
    result = classify_tracking_event(bare(event_type, {}, reject_reason=reject_reason))
    assert result is not None
    assert (result.category, result.hard) == (category, hard)


def test_esp_name_hint_overrides_shape_detection() -> None:
    # too little of Brevo's payload to recognise it, but the signal's esp_name says Brevo
    event = bare("bounced", {"event": "blocked", "email": RCPT}, recipient=RCPT)
    assert classify_tracking_event(event).category == "Other"  # type: ignore[union-attr]
    assert classify_tracking_event(event, esp_name="Brevo").category == "DNS"  # type: ignore[union-attr]
