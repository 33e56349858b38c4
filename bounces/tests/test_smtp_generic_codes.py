"""Specific evidence decides a bounce: a generic enhanced status never outweighs specific text.

RFC 3463's ``X.n.0`` codes ("other or undefined … status") say nothing about the failure; large
providers send them with text that does ("mailbox unavailable", "user unknown"). The replies below
are shaped after what the providers send: Outlook.com's ``5.5.0`` and Exchange Online's
``5.1.10`` replies as Microsoft's non-delivery-report documentation and the public SMTP field
manuals quote them; the others as ESPs report them (a generic DSN ``Status:`` beside the
provider's text, or the generic code in front of it).
"""

from __future__ import annotations

import pytest

from bounces.smtp import classify_smtp
from bounces.smtp_rules import ENHANCED_STATUS_RULES, GENERIC_CODE_STRENGTH, TEXT_RULES

# (provider, reply, DSN status or None)
MAILBOX_GONE = [
    (
        "outlook.com",
        "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
        "[DM6NAM12FT034.eop-nam12.prod.protection.outlook.com]",
        None,
    ),
    (
        "outlook.com",
        "smtp;550 5.5.0 Requested action not taken: mailbox unavailable. "
        "[BN8NAM12FT061.eop-nam12.prod.protection.outlook.com]",
        "5.5.0",
    ),
    ("hotmail.com", "550 5.5.0 Requested action not taken: mailbox unavailable", None),
    (
        "exchange-online",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        None,
    ),
    (
        "exchange-online",
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
        "Recipient not found by SMTP address lookup'",
        "5.0.0",
    ),
    ("exchange-online", "smtp; Recipient not found by SMTP address lookup", "5.0.0"),
    ("exchange-2003", "< #5.0.0 smtp;550 Requested action not taken: mailbox unavailable>", None),
    ("exchange-2003", "#550 5.5.0 Requested action not taken: mailbox unavailable ##", None),
    (
        "gmail",
        "smtp;550 The email account that you tried to reach does not exist. Please try double-checking "
        "the recipient's email address for typos or unnecessary spaces. - gsmtp",
        "5.0.0",
    ),
    ("gmail", "550 5.0.0 The email account that you tried to reach does not exist. - gsmtp", None),
    (
        "yahoo",
        "smtp;554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [-9] "
        "- mta1234.mail.ne1.yahoo.com",
        "5.0.0",
    ),
    ("yahoo", "smtp;552 1 Requested mail action aborted, mailbox not found", "5.0.0"),
    ("aol", "554 5.0.0 <someone@aol.com>: user unknown", None),
    ("icloud", "550 5.0.0 <someone@icloud.com>: user does not exist", None),
    ("icloud", "smtp;550 unknown or illegal alias: someone@icloud.com", "5.0.0"),
    ("comcast", "550 5.5.0 <someone@comcast.net> recipient not found", None),
    ("comcast", "554 5.0.0 someone@comcast.net : Not our Customer", None),
    ("cox", "550 5.5.0 <someone@cox.net> recipient rejected", None),
    ("att", "550 5.0.0 <someone@att.net>... Addressee unknown, relay=[192.0.2.1]", None),
    ("zoho", "550 5.5.0 <someone@zoho.com> User unknown", None),
    ("yandex", "550 5.0.0 No such user!", None),
    (
        "mail.ru",
        "550 5.0.0 Message was not accepted -- invalid mailbox. "
        "Local mailbox someone@mail.ru is unavailable: user not found",
        None,
    ),
    ("sendmail", "554 5.0.0 Service unavailable; <someone@example.org>... User unknown", None),
    ("postfix", "550 5.4.0 <someone@example.org>: mailbox unavailable", None),
    ("generic", "550 5.3.0 <someone@example.org>: no such user here", None),
]


@pytest.mark.parametrize(
    ("provider", "reply", "status"),
    MAILBOX_GONE,
    ids=[f"{row[0]}-{index}" for index, row in enumerate(MAILBOX_GONE)],
)
def test_specific_text_beats_a_generic_code(provider: str, reply: str, status: str | None) -> None:
    result = classify_smtp(reply, status=status)
    assert (result.category, result.hard, result.ours) == ("Bad-Mailbox", True, False), result.reason
    assert result.reason.startswith("text "), result.reason


@pytest.mark.parametrize(
    ("reply", "category", "hard"),
    [
        # the generic code alone, or with text that says nothing more, still decides
        ("550 5.5.0", "Bad-Configuration", False),
        ("554 5.0.0 Service unavailable", "Other", False),
        ("550 5.1.0 Address rejected", "Bad-Mailbox", True),
        # specific text of another kind decides too
        ("550 5.5.0 Syntax error, command unrecognized", "Bad-Configuration", False),
        ("554 5.0.0 Message rejected: blocked using zen.spamhaus.org", "Spam-Related", False),
        ("552 5.0.0 Mailbox full", "Quota-Issues", False),
        # a transient generic reply stays soft whatever its text says
        ("450 4.5.0 Requested action not taken: mailbox unavailable", "Routing-Errors", False),
        ("451 4.0.0 user unknown, try again later", "Routing-Errors", False),
        # a specific code is still evidence the weak "mailbox unavailable" text cannot overturn
        ("550 5.7.1 Requested action not taken: mailbox unavailable", "Policy-Related", False),
    ],
)
def test_generic_codes_elsewhere(reply: str, category: str, hard: bool) -> None:
    result = classify_smtp(reply)
    assert (result.category, result.hard) == (category, hard), result.reason


def test_every_text_rule_outweighs_every_generic_code() -> None:
    weakest_text = min(rule.priority for rule in TEXT_RULES)
    assert weakest_text > GENERIC_CODE_STRENGTH
    for subject in range(8):
        code = f"5.{subject}.0"
        result = classify_smtp(f"550 {code} mailbox unavailable")
        assert (result.category, result.hard) == ("Bad-Mailbox", True), (code, result.reason)
    # generic codes keep their table's category: they are still evidence when no text speaks
    assert ENHANCED_STATUS_RULES["X.0.0"].category == "Other"
