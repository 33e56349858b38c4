"""Django's SMTP EmailBackend and smtplib against the SMTP simulator."""

from __future__ import annotations

import smtplib

import pytest
import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend


@pytest.fixture(autouse=True)
def _django_settings():
    if not settings.configured:  # running with -p no:django
        settings.configure()


def _backend(smtp_sim) -> EmailBackend:
    return EmailBackend(host=smtp_sim.host, port=smtp_sim.port, use_tls=False, timeout=5, fail_silently=False)


def _message(to: list[str]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject="Appointment reminder",
        body="See you tomorrow at 10:00.",
        from_email="reminders@example.org",
        to=to,
        headers={
            "List-Unsubscribe": "<https://pimsy.example/u/abc>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative("<p>See you tomorrow at <b>10:00</b>.</p>", "text/html")
    return message


def test_django_backend_delivers_and_the_sim_keeps_what_it_received(smtp_sim):
    assert _backend(smtp_sim).send_messages([_message(["pat@example.org"])]) == 1
    (record,) = smtp_sim.received()
    assert record["kind"] == "email"
    assert record["mail_from"] == "reminders@example.org"
    assert record["rcpt_tos"] == ["pat@example.org"]
    assert record["subject"] == "Appointment reminder"
    assert record["list_unsubscribe"] == "<https://pimsy.example/u/abc>"
    assert record["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    assert record["text_size"] > 0 and record["html_size"] > 0
    assert "<b>10:00</b>" in record["html"]
    types = [p["content_type"] for p in record["parts"]]
    assert types == ["text/plain", "text/html"]
    assert record["queue_id"]


@pytest.mark.parametrize(
    ("address", "code", "text"),
    [
        ("hard-bounce@example.org", 550, b"5.1.1 <hard-bounce@example.org>: Recipient address"),
        ("hard-bounce+7@example.org", 550, b"User unknown"),
        ("mailbox-full@example.org", 452, b"4.2.2 Mailbox full"),
        ("anyone@nonexistent.example", 550, b"5.1.2 Host unknown"),
        ("spam-block@example.org", 554, b"zen.spamhaus.org"),
    ],
)
def test_rcpt_refusals_reach_the_django_backend(smtp_sim, address, code, text):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        _backend(smtp_sim).send_messages([_message([address])])
    refused_code, refused_text = caught.value.recipients[address]
    assert refused_code == code and text in refused_text
    (record,) = smtp_sim.received()
    assert record["kind"] == "rcpt_refused" and record["rcpt"] == address


def test_partial_refusal_delivers_to_the_others(smtp_sim):
    with smtplib.SMTP(smtp_sim.host, smtp_sim.port, timeout=5) as client:
        refused = client.sendmail(
            "reminders@example.org",
            ["ok@example.org", "mailbox-full@example.org"],
            b"Subject: hi\r\n\r\nbody\r\n",
        )
    assert refused == {"mailbox-full@example.org": (452, b"4.2.2 Mailbox full")}
    email = [r for r in smtp_sim.received() if r["kind"] == "email"][0]
    assert email["rcpt_tos"] == ["ok@example.org"]


def test_rules_can_change_at_runtime_and_reset_over_http(smtp_sim):
    rules = {"rules": {"@blocked.example": "554 5.7.1 Blocked", "hard-bounce": None}}
    assert requests.post(f"{smtp_sim.url}/_sim/outcomes", json=rules, timeout=5).ok
    with smtplib.SMTP(smtp_sim.host, smtp_sim.port, timeout=5) as client:
        refused = client.sendmail(
            "a@example.org", ["x@blocked.example", "hard-bounce@example.org"], b"Subject: s\r\n\r\nb"
        )
    assert refused == {"x@blocked.example": (554, b"5.7.1 Blocked")}
    bad = requests.post(f"{smtp_sim.url}/_sim/outcomes", json={"rules": {"x": "250 ok"}}, timeout=5)
    assert bad.status_code == 400
    assert len(requests.get(f"{smtp_sim.url}/_sim/received", timeout=5).json()) == 2
    assert requests.post(f"{smtp_sim.url}/_sim/reset", timeout=5).ok
    assert smtp_sim.received() == []
    assert smtp_sim.sim.rcpt_reply("hard-bounce@example.org")  # default rule is back
