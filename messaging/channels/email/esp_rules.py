"""What each ESP's own codes mean: the tables :mod:`messaging.channels.email.esp` reads payloads with.

A :class:`~bounces.taxonomy.CodeRule` is evidence for a category with a strength; a
``(hard, rule)`` pair also says whether the ESP calls the failure permanent (None: it does not say).
:data:`SUPPRESS` marks a refusal because of the provider's own suppression list (DNS).
"""

from __future__ import annotations

from bounces.taxonomy import Category, CodeRule

_C = Category

#: Marker in the tables below: the provider refused because of its own suppression list (DNS).
SUPPRESS = CodeRule(_C.DNS, 1000)


# --- Amazon SES (also the basis of Resend's bounce objects) ---

SES_BOUNCE_TYPES: dict[str, bool] = {"permanent": True, "transient": False}

SES_SUBTYPES: dict[str, CodeRule] = {
    "suppressed": SUPPRESS,
    "onaccountsuppressionlist": SUPPRESS,
    "noemail": CodeRule(_C.BAD_MAILBOX, 60),
    "mailboxfull": CodeRule(_C.QUOTA_ISSUES, 90),
    "messagetoolarge": CodeRule(_C.CONTENT_RELATED, 90),
    "contentrejected": CodeRule(_C.CONTENT_RELATED, 60),
    "attachmentrejected": CodeRule(_C.CONTENT_RELATED, 90),
}

SES_DELAY_TYPES: dict[str, CodeRule] = {
    "mailboxfull": CodeRule(_C.QUOTA_ISSUES, 90),
    "spamdetected": CodeRule(_C.SPAM_RELATED, 80),
    "ipfailure": CodeRule(_C.SPAM_RELATED, 70),
    "transientcommunicationfailure": CodeRule(_C.BAD_CONNECTION, 70),
    "byoiphostnamelookupunavailable": CodeRule(_C.BAD_CONFIGURATION, 70, ours=True),
    "recipientservererror": CodeRule(_C.OTHER, 40),
}


# --- Mailgun ---

MAILGUN_SEVERITY: dict[str, bool] = {"permanent": True, "temporary": False}

MAILGUN_REASONS: dict[str, CodeRule] = {
    "suppress-bounce": SUPPRESS,
    "suppress-complaint": SUPPRESS,
    "suppress-unsubscribe": SUPPRESS,
    "hardfail": SUPPRESS,  # "not delivering to previously bounced address"
    "old": CodeRule(_C.MESSAGE_EXPIRED, 80),
    "maxfails": CodeRule(_C.MESSAGE_EXPIRED, 80),
    "greylisted": CodeRule(_C.POLICY_RELATED, 70),
    "espblock": CodeRule(_C.SPAM_RELATED, 60),
}

MAILGUN_CODES: dict[int, CodeRule] = {
    605: SUPPRESS,  # previously bounced
    606: SUPPRESS,  # previously unsubscribed
    607: SUPPRESS,  # previously complained
    499: CodeRule(_C.NO_ANSWER_FROM_HOST, 40),  # unable to connect to MX
}


# --- Postmark ---

POSTMARK_TYPES: dict[str, tuple[bool | None, CodeRule | None]] = {
    "hardbounce": (True, None),
    "softbounce": (False, None),
    "transient": (False, None),
    "dnserror": (False, CodeRule(_C.ROUTING_ERRORS, 60)),
    "manuallydeactivated": (True, SUPPRESS),
    "manualsuppression": (True, SUPPRESS),
    "spamnotification": (False, CodeRule(_C.SPAM_RELATED, 90)),
    "virusnotification": (False, CodeRule(_C.CONTENT_RELATED, 90)),
    "bademailaddress": (True, CodeRule(_C.BAD_MAILBOX, 90)),
    "blocked": (False, CodeRule(_C.SPAM_RELATED, 60)),
    "dmarcpolicy": (False, CodeRule(_C.POLICY_RELATED, 90)),
    "unconfirmed": (False, CodeRule(_C.BAD_CONFIGURATION, 90, ours=True)),
    "smtpapierror": (False, CodeRule(_C.BAD_CONFIGURATION, 60, ours=True)),
    "templaterenderingfailed": (False, CodeRule(_C.BAD_CONFIGURATION, 90, ours=True)),
    "openrelaytest": (False, CodeRule(_C.OTHER, 30)),
}


# --- SparkPost, and Mandrill's bgtools_code (both use Momentum bounce classes) ---

MOMENTUM_CLASSES: dict[str, tuple[bool | None, CodeRule | None]] = {
    "1": (None, None),
    "10": (True, CodeRule(_C.BAD_MAILBOX, 80)),
    "20": (False, None),
    "21": (False, CodeRule(_C.ROUTING_ERRORS, 60)),
    "22": (False, CodeRule(_C.QUOTA_ISSUES, 90)),
    "23": (False, CodeRule(_C.CONTENT_RELATED, 90)),
    "24": (False, CodeRule(_C.MESSAGE_EXPIRED, 70)),
    "25": (False, CodeRule(_C.BAD_CONFIGURATION, 60, ours=True)),  # our account's policies
    "30": (True, CodeRule(_C.BAD_MAILBOX, 60)),
    "40": (False, None),
    "50": (False, CodeRule(_C.POLICY_RELATED, 60)),
    "51": (False, CodeRule(_C.SPAM_RELATED, 80)),
    "52": (False, CodeRule(_C.SPAM_RELATED, 70)),
    "53": (False, CodeRule(_C.CONTENT_RELATED, 80)),
    "54": (False, CodeRule(_C.RELAYING_ISSUES, 80)),
    "70": (False, None),
    "90": (True, SUPPRESS),
}

SPARKPOST_TYPES: dict[str, CodeRule] = {
    "generation_failure": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "generation_rejection": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
}


# --- Mandrill ---

MANDRILL_EVENTS: dict[str, bool] = {"hard_bounce": True, "soft_bounce": False, "deferral": False}

MANDRILL_DESCRIPTIONS: dict[str, CodeRule] = {
    "bad_mailbox": CodeRule(_C.BAD_MAILBOX, 80),
    "invalid_mailbox": CodeRule(_C.BAD_MAILBOX, 80),
    "invalid_address": CodeRule(_C.BAD_MAILBOX, 80),
    "invalid_domain": CodeRule(_C.BAD_DOMAIN, 80),
    "bad_domain": CodeRule(_C.BAD_DOMAIN, 80),
    "no_mx": CodeRule(_C.BAD_DOMAIN, 80),
    "mailbox_full": CodeRule(_C.QUOTA_ISSUES, 90),
    "inactive_mailbox": CodeRule(_C.INACTIVE_MAILBOX, 80),
    "spam_related": CodeRule(_C.SPAM_RELATED, 80),
    "content_related": CodeRule(_C.CONTENT_RELATED, 80),
    "policy_related": CodeRule(_C.POLICY_RELATED, 80),
}

MANDRILL_REJECTS: dict[str, CodeRule] = {
    "hard-bounce": SUPPRESS,
    "soft-bounce": SUPPRESS,
    "spam": SUPPRESS,
    "unsub": SUPPRESS,
    "custom": SUPPRESS,
    "invalid": CodeRule(_C.BAD_MAILBOX, 90),
    "invalid-sender": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "unsigned": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "test-mode-limit": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "rule": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
}


# --- Postal ---

POSTAL_STATUS: dict[str, bool] = {"hardfail": True, "softfail": False}


# --- MailerSend ---

MAILERSEND_TYPES: dict[str, bool] = {"hard_bounced": True, "soft_bounced": False}


# --- Mailjet ---

MAILJET_ERRORS: dict[str, CodeRule] = {
    "user unknown": CodeRule(_C.BAD_MAILBOX, 85),
    "mailbox inactive": CodeRule(_C.INACTIVE_MAILBOX, 85),
    "quota exceeded": CodeRule(_C.QUOTA_ISSUES, 90),
    "invalid domain": CodeRule(_C.BAD_DOMAIN, 85),
    "no mail host": CodeRule(_C.BAD_DOMAIN, 85),
    "relay/access denied": CodeRule(_C.RELAYING_ISSUES, 80),
    "greylisted": CodeRule(_C.POLICY_RELATED, 70),
    "sender blocked": CodeRule(_C.SPAM_RELATED, 70),
    "content blocked": CodeRule(_C.CONTENT_RELATED, 80),
    "policy issue": CodeRule(_C.POLICY_RELATED, 80),
    "typofix": CodeRule(_C.BAD_DOMAIN, 80),
    "duplicate in campaign": CodeRule(_C.OTHER, 80),
    "bad or empty template": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "error in template language": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "spam reporter": SUPPRESS,
    "blacklisted": SUPPRESS,
    "preblocked": SUPPRESS,
}


# --- SendGrid ---

SENDGRID_BOUNCE_TYPES: dict[str, tuple[bool | None, CodeRule | None]] = {
    "bounce": (True, None),
    "blocked": (False, None),
    "expired": (False, CodeRule(_C.MESSAGE_EXPIRED, 80)),
}

SENDGRID_DROPS: dict[str, CodeRule] = {
    "bounced address": SUPPRESS,
    "unsubscribed address": SUPPRESS,
    "spam reporting address": SUPPRESS,
    "unsubscribed group": SUPPRESS,
    "invalid": CodeRule(_C.BAD_MAILBOX, 90),
    "invalid smtpapi header": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "spam content": CodeRule(_C.CONTENT_RELATED, 80),
}

SENDGRID_CLASSIFICATIONS: dict[str, CodeRule] = {
    "invalid address": CodeRule(_C.BAD_MAILBOX, 70),
    "reputation": CodeRule(_C.SPAM_RELATED, 70),
    "content": CodeRule(_C.CONTENT_RELATED, 70),
    "frequency or volume too high": CodeRule(_C.POLICY_RELATED, 60),
    "technical failure": CodeRule(_C.BAD_CONFIGURATION, 30),
}


# --- Mailtrap ---

MAILTRAP_EVENTS: dict[str, tuple[bool | None, CodeRule | None]] = {
    "bounce": (True, None),
    "soft bounce": (False, None),
    "reject": (True, SUPPRESS),
    "suspension": (False, CodeRule(_C.BAD_CONFIGURATION, 90, ours=True)),
}


# --- Brevo (Sendinblue) ---

BREVO_EVENTS: dict[str, tuple[bool | None, CodeRule | None]] = {
    "hard_bounce": (True, None),
    "soft_bounce": (False, None),
    "deferred": (False, None),
    "blocked": (True, SUPPRESS),
    "invalid_email": (True, CodeRule(_C.BAD_MAILBOX, 90)),
    "error": (False, CodeRule(_C.BAD_CONFIGURATION, 90, ours=True)),
}


# --- Unisender Go ---

UNISENDER_STATUSES: dict[str, bool] = {"hard_bounced": True, "soft_bounced": False}

UNISENDER_ERRORS: dict[str, CodeRule] = {
    "err_user_unknown": CodeRule(_C.BAD_MAILBOX, 85),
    "err_dest_invalid": CodeRule(_C.BAD_MAILBOX, 85),
    "err_user_inactive": CodeRule(_C.INACTIVE_MAILBOX, 85),
    "err_mailbox_discarded": CodeRule(_C.INACTIVE_MAILBOX, 70),
    "err_mailbox_full": CodeRule(_C.QUOTA_ISSUES, 90),
    "err_spam_rejected": CodeRule(_C.SPAM_RELATED, 85),
    "err_blacklisted": CodeRule(_C.SPAM_RELATED, 60),
    "err_too_large": CodeRule(_C.CONTENT_RELATED, 90),
    "err_unsubscribed": SUPPRESS,
    "err_spam_skipped": SUPPRESS,
    "err_unreachable": CodeRule(_C.NO_ANSWER_FROM_HOST, 60),
    "err_domain_inactive": CodeRule(_C.BAD_DOMAIN, 85),
    "err_destination_misconfigured": CodeRule(_C.BAD_CONFIGURATION, 70),
    "err_src_invalid": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "err_not_allowed": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "err_over_quota": CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "err_skip_letter": CodeRule(_C.OTHER, 60),
    "err_lost": CodeRule(_C.OTHER, 40),
}


# --- Any ESP: anymail's normalised ``reject_reason`` ---

#: anymail ``reject_reason`` as weak evidence (strength 10), by event kind.
REJECT_REASONS: dict[str, CodeRule] = {
    "invalid": CodeRule(_C.BAD_MAILBOX, 10),
    "timed_out": CodeRule(_C.MESSAGE_EXPIRED, 10),
    "blocked": CodeRule(_C.POLICY_RELATED, 10),
    "spam": CodeRule(_C.SPAM_RELATED, 10),
    "unsubscribed": CodeRule(_C.DNS, 10),
}

#: For ``rejected`` events (the ESP refused to send) these reasons mean its own list.
REJECTED_SUPPRESSIONS = frozenset({"bounced", "spam", "unsubscribed", "blocked", "timed_out"})
