"""The cached MIME policy writes exactly the bytes the standard library's would, with each header
class made once."""

from __future__ import annotations

import email.policy
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.channels.email.mime import CachedHeaderRegistry, PolicyEmail, cached_policy

# MIME boundaries are random; Date is the clock's.
_VARYING = re.compile(rb"===============\d+==|^Date: .*$", re.MULTILINE)


def _email(subject: str, text: str, html: str, to: str = "ana@example.org") -> PolicyEmail:
    message = PolicyEmail(
        subject=subject,
        body=text,
        from_email="Riverbend <reminders@clinic.example>",
        to=[to],
        headers={
            "Message-ID": "<d1.123@clinic.example>",
            "List-Unsubscribe": "<https://clinic.example/bounces/unsubscribe/abc/>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-PIMSY-Delivery": "abc",
        },
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message


def _both(message: PolicyEmail, policy: email.policy.EmailPolicy) -> tuple[bytes, bytes]:
    ours = message.message(policy=policy).as_bytes()
    # The same message through Django's own class and the unmodified standard policy.
    stdlib = super(PolicyEmail, message).message(policy=policy).as_bytes()
    return _VARYING.sub(b"", ours), _VARYING.sub(b"", stdlib)


def test_a_product_email_is_byte_for_byte_what_the_standard_policy_writes():
    message = _email("Cita el martes", "Hola Ana,\nsu cita es el martes.", "<p>Hola Ana</p>")
    ours, stdlib = _both(message, email.policy.SMTP)
    assert ours == stdlib
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in ours


@settings(max_examples=60, deadline=None)
@given(
    subject=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=120),
    text=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400),
    html=st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
)
def test_any_subject_and_body_give_the_same_bytes(subject, text, html):
    """Non-ASCII subjects (encoded words), long lines and folding go the same way."""
    ours, stdlib = _both(_email(subject, text, html), email.policy.SMTP)
    assert ours == stdlib


def test_the_smtp_backend_policy_is_swapped_for_its_cached_twin():
    twin = cached_policy(email.policy.SMTP)
    assert twin is not email.policy.SMTP and isinstance(twin.header_factory, CachedHeaderRegistry)
    for name in ("linesep", "max_line_length", "utf8", "cte_type", "raise_on_defect", "mangle_from_"):
        assert getattr(twin, name) == getattr(email.policy.SMTP, name), name
    built = _email("Hello", "Body", "").message(policy=email.policy.SMTP)
    assert built.policy is twin


def test_a_policy_it_does_not_know_is_used_as_given():
    custom = email.policy.SMTP.clone(max_line_length=60)
    assert cached_policy(custom) is custom


def test_each_header_class_is_made_once_and_a_new_mapping_is_seen():
    registry = CachedHeaderRegistry()
    assert registry["Subject"] is registry["subject"]
    assert registry["To"] is not registry["Subject"]
    registry.map_to_type("X-Custom", email.headerregistry.AddressHeader)
    assert issubclass(registry["x-custom"], email.headerregistry.AddressHeader)
