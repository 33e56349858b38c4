"""parse_dsn on real-shaped bounce messages, and the classify_bounce management command."""

from __future__ import annotations

import email
import json
from email.message import Message
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from messaging.channels.email.dsn import DsnFailure, parse_dsn

FIXTURES = Path(__file__).parent / "fixtures" / "dsn"


def load(name: str) -> Message:
    with (FIXTURES / name).open("rb") as handle:
        return email.message_from_binary_file(handle)


# file → [(recipient, category, hard, status, action)]
EXPECTED = {
    "postfix_user_unknown.eml": [
        ("nosuchuser@example.org", "Bad-Mailbox", True, "5.1.1", "failed"),
        ("jane.doe@no-such-domain.example", "Bad-Domain", True, "5.4.4", "failed"),
    ],
    "exim_quota.eml": [("full.box@example.net", "Quota-Issues", False, "5.2.2", "failed")],
    "exchange_5_1_10.eml": [("ghost@contoso.com", "Bad-Mailbox", True, "5.1.10", "failed")],
    "gmail_5_7_1_spam.eml": [("patient.family@example.net", "Spam-Related", False, "5.7.1", "failed")],
    "exchange_4_4_7_expired.eml": [
        ("dr.smith@partner-clinic.example", "Message-Expired", False, "4.4.7", "failed"),
    ],
    "sendmail_delayed_4_4_7.eml": [
        ("slow.reader@sluggish-mx.example", "Message-Expired", False, "4.4.7", "delayed"),
    ],
    "qmail.eml": [("gone.away@old-isp.example", "Bad-Mailbox", True, "5.1.1", "failed")],
    "exim_text_quota.eml": [("stuffed@legacy-host.example", "Quota-Issues", False, "", "failed")],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str) -> None:
    failures = parse_dsn(load(name))
    got = [(f.recipient, f.category, f.hard, f.status, f.action) for f in failures]
    assert got == EXPECTED[name]


def test_every_fixture_is_covered() -> None:
    assert {p.name for p in FIXTURES.glob("*.eml")} == set(EXPECTED) | {"not_a_bounce.eml"}


def test_diagnostic_is_unfolded_without_type_prefix() -> None:
    (failure, _domain) = parse_dsn(load("postfix_user_unknown.eml"))
    assert failure.diagnostic == (
        "550 5.1.1 <nosuchuser@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
    )
    assert failure.reason == "text 'User unknown'"


def test_free_text_bounce_keeps_the_paragraph() -> None:
    (failure,) = parse_dsn(load("qmail.eml"))
    assert "no mailbox here by that name" in failure.diagnostic


def test_not_a_bounce() -> None:
    assert parse_dsn(load("not_a_bounce.eml")) == []


def test_delivery_status_given_as_text_is_parsed() -> None:
    # a report built in code can carry the status fields as one string instead of header blocks
    msg = load("exchange_5_1_10.eml")
    part = next(p for p in msg.walk() if p.get_content_type() == "message/delivery-status")
    part.set_payload(
        "Reporting-MTA: dns; mx.example\n\n"
        "Final-Recipient: rfc822; someone@example.org\nAction: failed\nStatus: 5.2.1\n"
    )
    failures = parse_dsn(msg)
    assert [(f.recipient, f.category, f.hard) for f in failures][0] == (
        "someone@example.org",
        "Inactive-Mailbox",
        True,
    )


def test_dsn_failure_is_a_value() -> None:
    failure = DsnFailure("a@b.org", "Bad-Mailbox", True, "5.1.1", "550 5.1.1 user unknown")
    assert failure == DsnFailure("a@b.org", "Bad-Mailbox", True, "5.1.1", "550 5.1.1 user unknown")
    assert failure.action == "failed"


# --- management command ---------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("classify_bounce", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_json_lines() -> None:
    files = [str(FIXTURES / "postfix_user_unknown.eml"), str(FIXTURES / "gmail_5_7_1_spam.eml")]
    out, err = run("--json", *files)
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines == [
        {"file": files[0], "recipient": "nosuchuser@example.org", "category": "Bad-Mailbox", "hard": True},
        {"file": files[0], "recipient": "jane.doe@no-such-domain.example", "category": "Bad-Domain", "hard": True},
        {"file": files[1], "recipient": "patient.family@example.net", "category": "Spam-Related", "hard": False},
    ]
    assert list(lines[0]) == ["file", "recipient", "category", "hard"]
    assert '"hard": true' in out.splitlines()[0]
    assert err == ""


def test_command_plain_output_is_aligned() -> None:
    files = [str(FIXTURES / name) for name in ("qmail.eml", "postfix_user_unknown.eml", "exim_quota.eml")]
    out, err = run(*files)
    lines = out.splitlines()
    expected = [
        (files[0], "gone.away@old-isp.example", "Bad-Mailbox", "hard"),
        (files[1], "nosuchuser@example.org", "Bad-Mailbox", "hard"),
        (files[1], "jane.doe@no-such-domain.example", "Bad-Domain", "hard"),
        (files[2], "full.box@example.net", "Quota-Issues", "soft"),
    ]
    assert [tuple(line.split()[:4]) for line in lines] == expected
    for column in (1, 2, 3):  # recipient, category and kind start in the same column everywhere
        assert len({line.index(row[column]) for line, row in zip(lines, expected, strict=True)}) == 1
    assert err == ""


def test_command_reports_unparseable_files_and_fails_at_the_end() -> None:
    good = str(FIXTURES / "qmail.eml")
    bad = str(FIXTURES / "not_a_bounce.eml")
    missing = str(FIXTURES / "does_not_exist.eml")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("classify_bounce", "--json", bad, good, missing, stdout=out, stderr=err)
    assert raised.value.returncode == 1
    assert json.loads(out.getvalue()) == {
        "file": good,
        "recipient": "gone.away@old-isp.example",
        "category": "Bad-Mailbox",
        "hard": True,
    }
    assert bad in err.getvalue() and "not a parseable bounce" in err.getvalue()
    assert missing in err.getvalue() and "cannot read" in err.getvalue()


def test_command_needs_a_file() -> None:
    with pytest.raises(CommandError):
        call_command("classify_bounce")
