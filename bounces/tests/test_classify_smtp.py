"""classify_smtp against real-shaped replies from the big mailbox providers and filters."""

from __future__ import annotations

import pytest

from bounces.smtp import classify_mapping, classify_smtp
from bounces.taxonomy import (
    CATEGORIES,
    CATEGORY_CHOICES,
    Category,
    Classification,
)

HARD = True
SOFT = False

# (provider, reply, category, hard)
REPLIES = [
    # --- Gmail ---
    (
        "gmail",
        "550-5.1.1 The email account that you tried to reach does not exist. Please try "
        "550-5.1.1 double-checking the recipient's email address for typos or unnecessary spaces.",
        "Bad-Mailbox",
        HARD,
    ),
    ("gmail", "550-5.2.1 The email account that you tried to reach is disabled.", "Inactive-Mailbox", HARD),
    ("gmail", "smtp; 552-5.2.2 The email account that you tried to reach is over quota", "Quota-Issues", SOFT),
    ("gmail", "452-4.2.2 The email account that you tried to reach is over quota.", "Quota-Issues", SOFT),
    (
        "gmail",
        "450-4.2.1 The user you are trying to contact is receiving mail at a rate that "
        "prevents additional messages from being delivered.",
        "Quota-Issues",
        SOFT,
    ),
    (
        "gmail",
        "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy.",
        "Policy-Related",
        SOFT,
    ),
    (
        "gmail",
        "550-5.7.1 [192.0.2.1] Our system has detected that this message is likely "
        "unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been "
        "blocked.",
        "Spam-Related",
        SOFT,
    ),
    (
        "gmail",
        "421-4.7.28 [192.0.2.1] Our system has detected an unusual rate of unsolicited "
        "mail originating from your IP address.",
        "Spam-Related",
        SOFT,
    ),
    (
        "gmail",
        "552-5.7.0 This message was blocked because its content presents a potential security issue.",
        "Content-Related",
        SOFT,
    ),
    ("gmail", "552-5.3.4 Your message exceeded Google's message size limits.", "Content-Related", SOFT),
    ("gmail", "554 5.6.0 Mail message is malformed. Not accepted.", "Content-Related", SOFT),
    (
        "gmail",
        "550-5.7.25 The IP address sending this message does not have a PTR record setup",
        "Policy-Related",
        SOFT,
    ),
    (
        "gmail",
        "550-5.7.1 The user or domain that you are sending to (or from) has a policy that "
        "prohibited the mail that you sent.",
        "Policy-Related",
        SOFT,
    ),
    # --- Outlook.com / Office 365 ---
    (
        "o365",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        "Bad-Mailbox",
        HARD,
    ),
    ("o365", "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found", "Bad-Mailbox", HARD),
    (
        "o365",
        "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) "
        "[BN8NAM12FT009.eop-nam12.prod.protection.outlook.com]",
        "Bad-Mailbox",
        HARD,
    ),
    (
        "o365",
        "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from "
        "this list please visit https://sender.office.com/",
        "Spam-Related",
        SOFT,
    ),
    (
        "o365",
        "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
        "Spam-Related",
        SOFT,
    ),
    (
        "o365",
        "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
        "Quota-Issues",
        SOFT,
    ),
    (
        "o365",
        "550 5.7.509 Access denied, sending domain example.com does not pass DMARC "
        "verification and has a DMARC policy of reject.",
        "Policy-Related",
        SOFT,
    ),
    ("o365", "550 5.4.316 Message expired, connection refused(Socket error code 10061)", "Message-Expired", SOFT),
    (
        "o365",
        "550 5.4.310 DNS domain example.invalid does not exist [Message=InfoDomainNonexistent]",
        "Bad-Domain",
        HARD,
    ),
    (
        "o365",
        "550 5.4.312 DNS query failed. The error was: DNS query failed with error ErrorRetry",
        "Routing-Errors",
        SOFT,
    ),
    ("o365", "554 5.4.14 Hop count exceeded - possible mail loop ATTR34", "Routing-Errors", SOFT),
    (
        "o365",
        "530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM",
        "Bad-Configuration",
        SOFT,
    ),
    (
        "o365",
        "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required; "
        "Delivery restriction check failed as sender not authenticated",
        "Policy-Related",
        SOFT,
    ),
    ("o365", "550 5.7.64 TenantAttribution; Relay Access Denied", "Relaying-Issues", SOFT),
    ("o365", "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77719)", "Policy-Related", SOFT),
    # --- Yahoo / AOL (Yahoo Inc.) ---
    (
        "yahoo",
        "554 delivery error: dd This user doesn't have a yahoo.com account "
        "(someone@yahoo.com) [0] - mta1234.mail.ne1.yahoo.com",
        "Bad-Mailbox",
        HARD,
    ),
    (
        "yahoo",
        "554 delivery error: dd Sorry your message to someone@yahoo.com cannot be "
        "delivered. This mailbox is disabled (554.30). - mta1234.mail.ne1.yahoo.com",
        "Inactive-Mailbox",
        HARD,
    ),
    (
        "yahoo",
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected "
        "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        "Spam-Related",
        SOFT,
    ),
    (
        "yahoo",
        "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred; "
        "Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
        "Spam-Related",
        SOFT,
    ),
    ("yahoo", "552 1 Requested mail action aborted, mailbox not found", "Bad-Mailbox", HARD),
    (
        "yahoo",
        "554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes",
        "Policy-Related",
        SOFT,
    ),
    ("aol", "550 MAILBOX NOT FOUND", "Bad-Mailbox", HARD),
    ("aol", "554 5.7.1 :HVU:B1 http://postmaster.aol.com/errors/554hvub1.html", "Spam-Related", SOFT),
    ("aol", "554 RLY:B1 http://postmaster.aol.com/errors/554rlyb1.html", "Spam-Related", SOFT),
    ("aol", "421 4.7.1 : (DYN:T1) https://postmaster.aol.com/error-codes#421dynt1", "Policy-Related", SOFT),
    ("aol", "552 5.2.2 Mailbox over quota", "Quota-Issues", SOFT),
    # --- iCloud ---
    ("icloud", "550 5.1.1 <someone@icloud.com>: user does not exist", "Bad-Mailbox", HARD),
    (
        "icloud",
        "554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137",
        "Policy-Related",
        SOFT,
    ),
    ("icloud", "552 5.2.2 <someone@me.com>: user is over quota", "Quota-Issues", SOFT),
    (
        "icloud",
        "450 4.2.2 <someone@icloud.com>: user is over quota (in reply to RCPT TO command)",
        "Quota-Issues",
        SOFT,
    ),
    (
        "icloud",
        "550 5.7.0 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.1",
        "Spam-Related",
        SOFT,
    ),
    # --- Comcast ---
    ("comcast", "554 5.1.1 someone@comcast.net : Not our Customer", "Bad-Mailbox", HARD),
    ("comcast", "550 5.1.1 someone@comcast.net is not a valid mailbox", "Bad-Mailbox", HARD),
    (
        "comcast",
        "554 resimta-po-22v.sys.comcast.net comcast 192.0.2.1 found on one or more "
        "DNSBLs, see http://postmaster.comcast.net/smtp-error-codes.php#BL000001",
        "Spam-Related",
        SOFT,
    ),
    (
        "comcast",
        "550 5.2.1 someone@comcast.net This account has been disabled or discontinued",
        "Inactive-Mailbox",
        HARD,
    ),
    ("comcast", "452 4.2.2 Mailbox full", "Quota-Issues", SOFT),
    # --- Exchange (on premises) ---
    ("exchange", "#550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found ##", "Bad-Mailbox", HARD),
    ("exchange", "550 5.7.1 Client does not have permissions to send as this sender", "Bad-Configuration", SOFT),
    ("exchange", "554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain", "Bad-Domain", HARD),
    ("exchange", "550 5.7.1 Unable to relay", "Relaying-Issues", SOFT),
    ("exchange", "452 4.3.1 Insufficient system resources", "Quota-Issues", SOFT),
    (
        "exchange",
        "550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient",
        "Content-Related",
        SOFT,
    ),
    ("exchange", "550 4.4.7 QUEUE.Expired; message expired", "Message-Expired", SOFT),
    ("exchange", "451 4.4.0 DNS query failed. The error was: SMTPSEND.DNS.NonExistentDomain", "Routing-Errors", SOFT),
    ("exchange", "421 4.4.2 Connection dropped due to SocketError", "Bad-Connection", SOFT),
    ("exchange", "550 5.6.0 CAT.InvalidContent.Exception: DataSourceOperationException", "Content-Related", SOFT),
    # --- Postfix ---
    (
        "postfix",
        "host mx1.example.org[198.51.100.25] said: 550 5.1.1 <a@example.org>: Recipient "
        "address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)",
        "Bad-Mailbox",
        HARD,
    ),
    (
        "postfix",
        "Host or domain name not found. Name service error for name=nx.example type=MX: Host not found",
        "Bad-Domain",
        HARD,
    ),
    (
        "postfix",
        "Host or domain name not found. Name service error for name=example.com type=MX: Host not found, try again",
        "Routing-Errors",
        SOFT,
    ),
    ("postfix", "connect to mx.example.com[192.0.2.1]:25: Connection timed out", "No-Answer-From-Host", SOFT),
    ("postfix", "connect to mx.example.com[192.0.2.1]:25: Connection refused", "No-Answer-From-Host", SOFT),
    (
        "postfix",
        "lost connection with mx.example.com[192.0.2.1] while sending end of data -- "
        "message may be sent more than once",
        "Bad-Connection",
        SOFT,
    ),
    (
        "postfix",
        "conversation with mx.example.com[192.0.2.1] timed out while receiving the initial server greeting",
        "Bad-Connection",
        SOFT,
    ),
    ("postfix", "mail for example.com loops back to myself", "Routing-Errors", SOFT),
    (
        "postfix",
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
        "zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
        "Spam-Related",
        SOFT,
    ),
    ("postfix", "550 5.7.1 <a@example.org>: Relay access denied", "Relaying-Issues", SOFT),
    (
        "postfix",
        "450 4.7.1 <a@example.org>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/example.org.html",
        "Policy-Related",
        SOFT,
    ),
    ("postfix", "550 5.1.2 <a@example.org>: Recipient address rejected: Domain not found", "Bad-Domain", HARD),
    ("postfix", "450 4.1.2 <a@example.org>: Recipient address rejected: Domain not found", "Routing-Errors", SOFT),
    ("postfix", "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied", "Policy-Related", SOFT),
    ("postfix", "552 5.3.4 Message size exceeds fixed limit", "Content-Related", SOFT),
    (
        "postfix",
        "450 4.1.8 <reminders@nodns.example>: Sender address rejected: Domain not found",
        "Bad-Configuration",
        SOFT,
    ),
    ("postfix", "550 5.2.1 <a@example.org>: Mailbox disabled, not accepting messages", "Inactive-Mailbox", HARD),
    ("postfix", "553 5.1.3 <a@@example.org>: Recipient address rejected: bad address syntax", "Bad-Mailbox", HARD),
    ("postfix", "501 5.5.4 Syntax: HELO hostname", "Bad-Configuration", SOFT),
    # --- Exim ---
    (
        "exim",
        "SMTP error from remote mail server after RCPT TO:<a@example.org>: 550 Unrouteable address",
        "Bad-Mailbox",
        HARD,
    ),
    ("exim", "retry timeout exceeded", "Message-Expired", SOFT),
    ("exim", "mailbox is full: retry timeout exceeded", "Quota-Issues", SOFT),
    ("exim", "all relevant MX records point to non-existent hosts", "Bad-Domain", HARD),
    (
        "exim",
        "all hosts for 'example.com' have been failing for a long time (and retry time not reached)",
        "No-Answer-From-Host",
        SOFT,
    ),
    # --- Mimecast ---
    ("mimecast", "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550", "Bad-Mailbox", HARD),
    (
        "mimecast",
        "550 Rejected by header based Blocked Senders - Block policy for Header From - "
        "https://community.mimecast.com/docs/DOC-1369#550",
        "Policy-Related",
        SOFT,
    ),
    (
        "mimecast",
        "550 Administrative prohibition - envelope blocked - https://community.mimecast.com/docs/DOC-1369#550",
        "Policy-Related",
        SOFT,
    ),
    (
        "mimecast",
        "554 Email rejected due to security policies - https://community.mimecast.com/docs/DOC-1369#554",
        "Policy-Related",
        SOFT,
    ),
    (
        "mimecast",
        "451 Open relay not allowed - https://community.mimecast.com/docs/DOC-1369#451",
        "Relaying-Issues",
        SOFT,
    ),
    (
        "mimecast",
        "550 Local CT IP Reputation - (reject) - https://community.mimecast.com/docs/DOC-1369#550",
        "Spam-Related",
        SOFT,
    ),
    (
        "mimecast",
        "550 Sender has no A, AAAA, or MX DNS records. - https://community.mimecast.com/docs/DOC-1369#550",
        "Bad-Configuration",
        SOFT,
    ),
    # --- Proofpoint ---
    ("proofpoint", "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1", "Spam-Related", SOFT),
    ("proofpoint", "550 5.7.1 Message blocked due to spam content in the message.", "Spam-Related", SOFT),
    ("proofpoint", "554 5.7.1 Virus detected", "Content-Related", SOFT),
    ("proofpoint", "452 4.5.3 Too many recipients", "Bad-Configuration", SOFT),
    (
        "proofpoint",
        "421 4.7.0 Temporarily blocked - Too many connections from your IP, try again later",
        "Policy-Related",
        SOFT,
    ),
    ("proofpoint", "550 5.1.1 User Unknown", "Bad-Mailbox", HARD),
    # --- Barracuda ---
    (
        "barracuda",
        "554 Service unavailable; Client host [192.0.2.1] blocked using Barracuda "
        "Reputation; http://www.barracudanetworks.com/reputation/?r=1&ip=192.0.2.1",
        "Spam-Related",
        SOFT,
    ),
    (
        "barracuda",
        "550 permanent failure for one or more recipients (a@example.org:550 5.1.1 "
        "<a@example.org>: Recipient address rejected: User unknown in virtual alias table)",
        "Bad-Mailbox",
        HARD,
    ),
    ("barracuda", "550 permanent failure for one or more recipients (a@example.org:blocked)", "Policy-Related", SOFT),
    ("barracuda", "550 5.7.0 Message content rejected, UBE, id=12345-01-01", "Spam-Related", SOFT),
    ("barracuda", "554 5.7.1 Message content rejected", "Content-Related", SOFT),
    # --- qmail ---
    ("qmail", "Sorry, no mailbox here by that name. (#5.1.1)", "Bad-Mailbox", HARD),
]


@pytest.mark.parametrize(
    ("provider", "reply", "category", "hard"),
    REPLIES,
    ids=[f"{row[0]}-{index}" for index, row in enumerate(REPLIES)],
)
def test_real_replies(provider: str, reply: str, category: str, hard: bool) -> None:
    result = classify_smtp(reply)
    assert (result.category, result.hard) == (category, hard), result.reason


@pytest.mark.parametrize(
    ("reply", "category", "hard"),
    [
        # the examples of the brief and the taxonomy
        ("550 5.1.1 <a@b.org>: Recipient address rejected: User unknown", "Bad-Mailbox", HARD),
        ("550 5.7.1 Message refused: blocked by Spamhaus RBL", "Spam-Related", SOFT),
        ("550 5.1.1 mailbox full", "Quota-Issues", SOFT),
        ("552 5.2.2", "Quota-Issues", SOFT),
        # enhanced code alone
        ("550 5.1.1", "Bad-Mailbox", HARD),
        ("550 5.1.2", "Bad-Domain", HARD),
        ("550 5.2.1", "Inactive-Mailbox", HARD),
        ("550 5.4.7", "Message-Expired", SOFT),
        ("421 4.4.1", "No-Answer-From-Host", SOFT),
        ("550 5.6.1", "Content-Related", SOFT),
        ("550 5.7.1", "Policy-Related", SOFT),
        ("550 5.1.7", "Bad-Configuration", SOFT),
        # a transient failure is never hard
        ("450 4.1.1 <a@b.org>: Recipient address rejected: User unknown", "Routing-Errors", SOFT),
        ("450 4.2.1 mailbox temporarily disabled", "Routing-Errors", SOFT),
        # basic code alone
        ("552 Requested mail action aborted: exceeded storage allocation", "Quota-Issues", SOFT),
        ("551 User not local; please try <forward-path>", "Bad-Mailbox", HARD),
        ("556 Domain does not accept mail", "Bad-Domain", HARD),
        ("550", "Other", SOFT),
        ("", "Other", SOFT),
        ("something nobody has ever written", "Other", SOFT),
    ],
)
def test_codes_and_precedence(reply: str, category: str, hard: bool) -> None:
    result = classify_smtp(reply)
    assert (result.category, result.hard) == (category, hard), result.reason


def test_reason_names_the_evidence() -> None:
    assert classify_smtp("550 5.1.1").reason == "enhanced 5.1.1"
    assert classify_smtp("550 5.1.1 mailbox full").reason == "text 'mailbox full'"
    assert classify_smtp("552 storage").reason == "basic 552"


def test_status_is_a_fallback_code() -> None:
    assert classify_smtp("Delivery failed", status="5.1.1").category == "Bad-Mailbox"
    # the reply's own code wins over the status field
    assert classify_smtp("552 5.2.2 sorry", status="5.0.0").category == "Quota-Issues"


def test_transient_can_be_forced() -> None:
    assert classify_smtp("550 5.1.1 user unknown", transient=True).category == "Routing-Errors"
    assert classify_smtp("450 4.1.1 user unknown", transient=False).category == "Bad-Mailbox"


def test_ours_flags_our_configuration() -> None:
    assert classify_smtp("550 5.7.1 Sender address rejected: Access denied").ours
    assert classify_smtp("530 5.7.0 Must issue a STARTTLS command first").ours
    assert not classify_smtp("550 5.3.0 Mail system misconfigured").ours
    assert not classify_smtp("550 5.1.1 user unknown").ours


@pytest.mark.parametrize("junk", [None, 550, b"550 5.1.1", ["550"], {"a": 1}])
def test_never_raises(junk: object) -> None:
    assert classify_smtp(junk).category in CATEGORIES  # type: ignore[arg-type]


# --- categories ---------------------------------------------------------------------------

SEED_HARD = {"Bad-Domain", "Bad-Mailbox", "DNS", "Domain DNS", "Inactive-Mailbox"}
SEED_SOFT = {
    "Policy-Related",
    "Content-Related",
    "Relaying-Issues",
    "Routing-Errors",
    "Spam-Related",
    "Bad-Configuration",
    "Bad-Connection",
    "Message-Expired",
    "No-Answer-From-Host",
    "Quota-Issues",
    "Other",
}


def test_sixteen_categories_spelled_as_the_seed() -> None:
    assert len(CATEGORIES) == 16
    assert {str(c) for c in CATEGORIES if c.hard} == SEED_HARD
    assert {str(c) for c in CATEGORIES if not c.hard} == SEED_SOFT
    assert "Domain DNS" in CATEGORIES
    assert all(c.explanation for c in CATEGORIES)
    assert Category("Quota-Issues").explanation.startswith("The Client's email box")


def test_category_choices_store_the_names() -> None:
    assert CATEGORY_CHOICES[0] == ("Bad-Domain", "Bad-Domain")
    assert {value for value, _ in CATEGORY_CHOICES} == SEED_HARD | SEED_SOFT
    assert max(len(value) for value, _ in CATEGORY_CHOICES) <= 24


def test_classification_invariants() -> None:
    result = Classification(category="Quota-Issues", hard=False, reason="x")
    assert result.retryable is True
    assert result.label == "Quota-Issues"
    assert result.kind == "soft"
    assert Classification(category="DNS", hard=True).retryable is False
    with pytest.raises(ValueError):
        Classification(category="Quota-Issues", hard=True)
    with pytest.raises(ValueError):
        Classification(category="Routing-Issues", hard=False)
    assert result == Classification(category=Category.QUOTA_ISSUES, hard=False, reason="x")


@pytest.mark.parametrize(
    ("name", "category", "ours"),
    [
        ("invalid-sender", "Bad-Configuration", True),
        ("protocol-errors", "Bad-Configuration", True),
        ("virus-related", "Content-Related", False),
        ("bad-mailbox", "Bad-Mailbox", False),
        ("Quota Issues", "Quota-Issues", False),
        ("Routing-Issues", "Routing-Errors", False),
        ("domain dns", "Domain DNS", False),
        ("InvalidRecipient", "Bad-Mailbox", False),
        ("SpamBlock", "Spam-Related", False),
        ("DNSFailure", "Routing-Errors", False),
        ("something-new", "Other", False),
    ],
)
def test_classify_mapping(name: str, category: str, ours: bool) -> None:
    result = classify_mapping(name)
    assert (result.category, result.ours) == (category, ours)
