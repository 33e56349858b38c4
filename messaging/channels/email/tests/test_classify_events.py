"""classify_tracking_event with events built by anymail's own webhook converters.

The raw payloads have the shapes the ESPs post (taken from their docs and anymail's tests);
running them through anymail's ``esp_to_anymail_event`` gives exactly the normalised fields
(event_type, reject_reason, mta_response, description) that our tracking handler will see.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from anymail.signals import AnymailTrackingEvent
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView

from messaging.channels.email.esp import classify_tracking_event
from messaging.channels.email.tests.esp_events import RCPT, converter, expect_classified

# --- Amazon SES ------------------------------------------------------------------------------


def ses(event_type: str, **body: Any) -> AnymailTrackingEvent:
    raw = {
        "eventType": event_type,
        "mail": {
            "timestamp": "2024-11-12T19:03:09.000Z",
            "source": "reminders@pimsy-clinic.example",
            "messageId": "01000193214b8a2f-6a1e5f0c-4b0e-4f43-9d1c-3b5e7a8c9d0e-000000",
            "destination": [RCPT],
            "headers": [{"name": "X-Metadata", "value": '{"delivery_id": "42"}'}],
        },
        **body,
    }
    sns = {"Type": "Notification", "MessageId": "5d0b2c1e-1f2a", "Timestamp": "2024-11-12T19:03:12.000Z"}
    return converter(AmazonSESTrackingWebhookView).esp_to_anymail_events(raw, sns)[0]


def ses_bounce(bounce_type: str, subtype: str, diagnostic: str | None, status: str = "5.1.1") -> AnymailTrackingEvent:
    recipient = {"emailAddress": RCPT, "action": "failed", "status": status}
    if diagnostic is not None:
        recipient["diagnosticCode"] = diagnostic
    bounce = {
        "feedbackId": "01000193214b8c3d-feedback-000000",
        "bounceType": bounce_type,
        "bounceSubType": subtype,
        "bouncedRecipients": [recipient],
        "timestamp": "2024-11-12T19:03:11.000Z",
        "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
    }
    return ses("Bounce", bounce=bounce)


@pytest.mark.parametrize(
    ("event", "category", "hard"),
    [
        (ses_bounce("Permanent", "General", "smtp; 550 5.1.1 user unknown"), "Bad-Mailbox", True),
        (ses_bounce("Permanent", "NoEmail", None), "Bad-Mailbox", True),
        (
            ses_bounce(
                "Permanent",
                "Suppressed",
                "Amazon SES has suppressed sending to this address because it has a recent "
                "history of bouncing as an invalid address.",
            ),
            "DNS",
            True,
        ),
        (
            ses_bounce(
                "Permanent",
                "OnAccountSuppressionList",
                "Amazon SES did not send the message to this address because it is on the "
                "suppression list for your account.",
            ),
            "DNS",
            True,
        ),
        (ses_bounce("Transient", "MailboxFull", "smtp; 552 5.2.2 Mailbox full", "5.2.2"), "Quota-Issues", False),
        (ses_bounce("Transient", "General", None, "4.0.0"), "Other", False),
        # permanent by the ESP, but a spam block is soft by category
        (
            ses_bounce(
                "Permanent",
                "General",
                "smtp; 554 5.7.1 Service unavailable; Client host [54.240.8.1] blocked using zen.spamhaus.org",
                "5.7.1",
            ),
            "Spam-Related",
            False,
        ),
        # a transient bounce with "hard" text is still soft
        (ses_bounce("Transient", "General", "smtp; 550 5.1.1 user unknown"), "Routing-Errors", False),
        (
            ses(
                "Complaint",
                complaint={
                    "complainedRecipients": [{"emailAddress": RCPT}],
                    "timestamp": "2024-11-12T20:00:00.000Z",
                    "feedbackId": "0100019-complaint",
                    "complaintFeedbackType": "abuse",
                },
            ),
            "DNS",
            True,
        ),
        (ses("Reject", reject={"reason": "Bad content"}), "Content-Related", False),
        (
            ses(
                "Rendering Failure",
                failure={"errorMessage": "Attribute 'name' is not present", "templateName": "reminder"},
            ),
            "Bad-Configuration",
            False,
        ),
        (
            ses(
                "Delivery",
                delivery={
                    "timestamp": "2024-11-12T19:03:10.000Z",
                    "processingTimeMillis": 546,
                    "recipients": [RCPT],
                    "smtpResponse": "250 2.6.0 Message received",
                    "reportingMTA": "a8-70.smtp-out.amazonses.com",
                },
            ),
            None,
            None,
        ),
    ],
)
def test_amazon_ses(event: AnymailTrackingEvent, category: str | None, hard: bool | None) -> None:
    expect_classified(event, category, hard)


def test_ses_rendering_failure_is_ours() -> None:
    event = ses("Rendering Failure", failure={"errorMessage": "bad template", "templateName": "t"})
    result = classify_tracking_event(event)
    assert result is not None and result.ours and result.retryable


# --- Mailgun --------------------------------------------------------------------------------


def mailgun(event: str, **data: Any) -> AnymailTrackingEvent:
    raw = {
        "signature": {"timestamp": "1731438191", "token": "651869375b9df3c98fc15c4889b1021", "signature": "x"},
        "event-data": {
            "event": event,
            "timestamp": 1731438191.389832,
            "recipient": RCPT,
            "log-level": "error",
            "message": {"headers": {"to": RCPT, "message-id": "20241112190309.1.ABC@mg.pimsy-clinic.example"}},
            **data,
        },
    }
    return converter(MailgunTrackingWebhookView).esp_to_anymail_event(raw)


@pytest.mark.parametrize(
    ("event", "category", "hard"),
    [
        (
            mailgun(
                "failed",
                severity="permanent",
                reason="bounce",
                **{
                    "delivery-status": {
                        "tls": True,
                        "mx-host": "aspmx.l.google.com",
                        "attempt-no": 1,
                        "description": "",
                        "code": 550,
                        "message": "5.1.1 The email account that you tried to reach does not exist. Please try\n"
                        "5.1.1 double-checking the recipient's email address for typos",
                    }
                },
            ),
            "Bad-Mailbox",
            True,
        ),
        # Mailgun "temporary" becomes anymail "deferred": a missing MX is soft while retried
        (
            mailgun(
                "failed",
                severity="temporary",
                reason="generic",
                **{
                    "delivery-status": {
                        "attempt-no": 3,
                        "description": "No MX for nomx.example.com",
                        "retry-seconds": 1800,
                        "code": 498,
                        "message": "No MX for nomx.example.com",
                    }
                },
            ),
            "Routing-Errors",
            False,
        ),
        (
            mailgun(
                "failed",
                severity="temporary",
                reason="greylisted",
                **{
                    "delivery-status": {
                        "mx-host": "mx.example.org",
                        "code": 450,
                        "message": "Recipient address rejected: Greylisted",
                        "description": "Recipient address rejected: Greylisted",
                    }
                },
            ),
            "Policy-Related",
            False,
        ),
        (
            mailgun(
                "failed",
                severity="permanent",
                reason="suppress-bounce",
                **{
                    "delivery-status": {
                        "attempt-no": 1,
                        "message": "",
                        "code": 605,
                        "description": "Not delivering to previously bounced address",
                    }
                },
            ),
            "DNS",
            True,
        ),
        (
            mailgun(
                "failed",
                severity="permanent",
                reason="old",
                **{"delivery-status": {"code": 0, "message": "", "description": "Too old"}},
            ),
            "Message-Expired",
            False,
        ),
        (
            mailgun(
                "failed",
                severity="permanent",
                reason="bounce",
                **{
                    "delivery-status": {
                        "code": 552,
                        "message": "5.2.2 The email account that you tried to reach is over quota.",
                    }
                },
            ),
            "Quota-Issues",
            False,
        ),
        (mailgun("complained"), "DNS", True),
        (mailgun("unsubscribed"), "DNS", True),
        (mailgun("delivered", **{"delivery-status": {"code": 250, "message": "OK"}}), None, None),
        (mailgun("opened"), None, None),
    ],
)
def test_mailgun(event: AnymailTrackingEvent, category: str | None, hard: bool | None) -> None:
    expect_classified(event, category, hard)


def test_mailgun_legacy_querydict() -> None:
    from django.http import QueryDict

    post = QueryDict(mutable=True)
    post.update(
        {
            "event": "bounced",
            "recipient": RCPT,
            "code": "550",
            "error": "5.1.1 The email account that you tried to reach does not exist.",
            "notification": "",
            "Message-Id": "<20241112190309.1.ABC@mg.pimsy-clinic.example>",
            "timestamp": "1731438191",
            "token": "abc",
            "signature": "def",
        }
    )
    event = converter(MailgunTrackingWebhookView).mailgun_legacy_to_anymail_event(post)
    expect_classified(event, "Bad-Mailbox", True)


# --- Postmark -------------------------------------------------------------------------------

POSTMARK_BOUNCE = {
    "RecordType": "Bounce",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "reminder",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "ServerID": 23,
    "MessageStream": "outbound",
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    "Email": RCPT,
    "From": "reminders@pimsy-clinic.example",
    "BouncedAt": "2024-11-12T19:03:11.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Appointment reminder",
    "Metadata": {"delivery_id": "42"},
}


def postmark(**changes: Any) -> AnymailTrackingEvent:
    raw = {**copy.deepcopy(POSTMARK_BOUNCE), **changes}
    return converter(PostmarkTrackingWebhookView).esp_to_anymail_event(raw)


@pytest.mark.parametrize(
    ("event", "category", "hard"),
    [
        (postmark(), "Bad-Mailbox", True),
        (
            postmark(
                Type="SoftBounce",
                TypeCode=4096,
                Name="Soft bounce",
                Description="Unable to temporarily deliver this email.",
                Details="smtp;452 4.2.2 The email account that you tried to reach is over quota.",
            ),
            "Quota-Issues",
            False,
        ),
        # the generic description ("unknown user") must not beat the MTA's words
        (
            postmark(Details="smtp;550 5.7.1 Message rejected due to local policy"),
            "Policy-Related",
            False,
        ),
        (
            postmark(
                Type="Transient",
                TypeCode=2,
                Name="Message delayed",
                Description="The server could not temporarily deliver your message.",
                Details="smtp;450 4.7.1 Recipient address rejected: Greylisted",
            ),
            "Policy-Related",
            False,
        ),
        (
            postmark(
                Type="ManuallyDeactivated",
                TypeCode=16384,
                Name="Manually deactivated",
                Description="The email was manually deactivated.",
                Details="",
            ),
            "DNS",
            True,
        ),
        # anymail calls SpamNotification "complained", but it is a spam-filter bounce
        (
            postmark(
                Type="SpamNotification",
                TypeCode=512,
                Name="Spam notification",
                Description="The message was delivered, but was either blocked by the user, or "
                "classified as spam, bulk mail, or had rejected content.",
                Details="",
            ),
            "Spam-Related",
            False,
        ),
        (
            postmark(
                RecordType="SpamComplaint",
                Type="SpamComplaint",
                TypeCode=100001,
                Description="The subscriber explicitly marked this message as spam.",
                Details="",
            ),
            "DNS",
            True,
        ),
        (
            postmark(
                Type="DnsError",
                TypeCode=8,
                Description="Temporary DNS error.",
                Details="DNS lookup failed for example.org",
            ),
            "Routing-Errors",
            False,
        ),
        (
            postmark(
                Type="BadEmailAddress",
                TypeCode=100000,
                Description="Address is invalid.",
                Details="Invalid email address",
            ),
            "Bad-Mailbox",
            True,
        ),
        (
            postmark(Type="VirusNotification", TypeCode=256, Description="Virus found", Details=""),
            "Content-Related",
            False,
        ),
    ],
)
def test_postmark(event: AnymailTrackingEvent, category: str | None, hard: bool | None) -> None:
    expect_classified(event, category, hard)


def test_postmark_delivery_and_unsubscribe() -> None:
    view = converter(PostmarkTrackingWebhookView)
    delivered = view.esp_to_anymail_event(
        {
            "RecordType": "Delivery",
            "ServerID": 23,
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Recipient": RCPT,
            "Tag": "reminder",
            "DeliveredAt": "2024-11-12T19:03:11Z",
            "Details": "Test delivery webhook details",
        }
    )
    expect_classified(delivered, None)
    unsubscribed = view.esp_to_anymail_event(
        {
            "RecordType": "SubscriptionChange",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "ServerID": 23,
            "ChangedAt": "2024-11-12T19:03:11Z",
            "Recipient": RCPT,
            "Origin": "Recipient",
            "SuppressSending": True,
            "SuppressionReason": "ManualSuppression",
            "Tag": "reminder",
            "Metadata": {},
        }
    )
    expect_classified(unsubscribed, "DNS", True)
