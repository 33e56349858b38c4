"""The portal channel end to end: offered with 620, addressed to the client's own login, delivered to
the inbox, announced without PHI by the preferred channel, bounced without an account."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.http import QueryDict

from clients.models import ContactMethod, PortalAccount
from clients.tests.factories import make_client
from messaging import dispatch
from messaging.broadcasts import broadcast_create
from messaging.channels.portal.transport import NO_ACCOUNT
from messaging.channels.registry import kinds, spec_for
from messaging.forms import NewMessageForm
from messaging.models import Delivery, MessageTemplate, MessageType, Status
from messaging.recipients import recipients_for
from messaging.services_settings import setting_update
from messaging.system_settings import clear_cache
from messaging.tests.dispatch_support import _fresh_rate_limits, _public_base_url, daytime, refreshed

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime"]

pytestmark = pytest.mark.django_db
SECRET = "Your lab results are ready: A1C 6.1"


def expose(on: bool = True) -> None:
    setting_update(number=620, value="yes" if on else "no")
    clear_cache()


def with_account(client, username: str = "rosa", *, active: bool = True):
    user = get_user_model().objects.create_user(username, password="Portal-pass-123!", email="")
    PortalAccount.objects.create(client=client, user=user, is_active=active)
    return user


def ad_hoc() -> MessageType:
    return MessageType.objects.get(code="ad-hoc-clients")


def send_now(daytime) -> None:
    """Run the dispatcher until nothing is due (the notices the portal sends are due at once)."""
    for _ in range(5):
        claims = list(dispatch.claim_due(now=daytime.now()))
        if not claims:
            return
        for claim in claims:
            dispatch.send_claimed(claim.ids, claim.token)


def test_the_portal_is_a_registered_channel_with_its_own_templates():
    assert "portal" in kinds() and spec_for("portal").label == "Portal message"
    # bootstrap gave every standard client type a portal template (subject and text, like e-mail)
    template = MessageTemplate.objects.get(message_type=ad_hoc(), channel="portal")
    assert template.email_subject and "{{ description }}" in template.email_text
    # the notice never goes to the portal itself
    notice = MessageType.objects.get(code="portal-message-notice")
    assert not MessageTemplate.objects.filter(message_type=notice, channel="portal").exists()


def test_new_tab_offers_portal_only_while_setting_620_is_yes():
    expose(False)
    assert "portal" not in dict(NewMessageForm().fields["channels"].choices)
    form = NewMessageForm(QueryDict(f"message_type={ad_hoc().pk}&channels=portal"))
    assert form.chosen_channels() == []
    expose(True)
    assert dict(NewMessageForm().fields["channels"].choices)["portal"] == "Portal message"


def test_recipients_use_the_clients_own_login_even_with_an_alternate_contact():
    expose()
    own = make_client(last_name="Own")
    with_account(own, "own-login")
    alternate = make_client(last_name="Alt", use_detail=False, alternate={"email": "mom@example.org"})
    with_account(alternate, "alt-login")
    nobody = make_client(last_name="Nobody")
    result = recipients_for(message_type=ad_hoc(), channels=["portal"])
    addresses = {r.name.split(",")[0]: [t.address for t in r.targets] for r in result.recipients}
    assert addresses["Own"] == ["own-login"] and addresses["Alt"] == ["alt-login"]
    [excluded] = [e for e in result.excluded if e.name.startswith("Nobody")]
    assert excluded.reason == "No client portal account"
    assert nobody.pk not in {r.client_id for r in result.recipients}


def test_portal_message_reaches_the_inbox_and_a_notice_without_phi_goes_by_preference(daytime, client):
    expose()
    patient = make_client(first_name="Rosa", last_name="Reyes", preferred=ContactMethod.EMAIL)
    with_account(patient)
    result = broadcast_create(message_type=ad_hoc(), channels=["portal"], description=SECRET)
    [portal] = Delivery.objects.filter(broadcast=result.broadcast)
    assert portal.address == "rosa"
    send_now(daytime)
    portal = refreshed(portal)
    assert (portal.status, portal.provider_message_id) == (Status.DELIVERED, f"portal-{portal.pk}")
    # the notice: one e-mail (Rosa prefers e-mail), saying only that a message waits
    [notice] = Delivery.objects.filter(client=patient, message_type__code="portal-message-notice")
    assert notice.channel == "email" and notice.status in (Status.SENT, Status.DELIVERED)
    [sent] = mail.outbox
    assert sent.to == [patient.email] and "/portal/" in sent.body
    for text in (sent.subject, sent.body):
        assert "Rosa" not in text and "Reyes" not in text and "A1C" not in text and "lab" not in text
    # the content is in the portal inbox, and only there
    client.force_login(get_user_model().objects.get(username="rosa"))
    inbox = client.get("/portal/").content.decode()
    assert f"/portal/messages/{portal.pk}/" in inbox and f"/portal/messages/{notice.pk}/" not in inbox
    page = client.get(f"/portal/messages/{portal.pk}/").content.decode()
    assert "A1C 6.1" in page


def test_a_restarted_send_announces_the_message_once(daytime):
    expose()
    patient = make_client(preferred=ContactMethod.TEXT)
    with_account(patient)
    result = broadcast_create(message_type=ad_hoc(), channels=["portal"], description="Office news")
    [portal] = Delivery.objects.filter(broadcast=result.broadcast)
    from messaging.channels.portal.transport import PortalTransport
    from messaging.rendering import render_delivery

    rendered = render_delivery(portal)
    PortalTransport().send(portal, rendered)
    PortalTransport().send(portal, rendered)  # the worker died before the write-back: sent again
    notices = Delivery.objects.filter(client=patient, message_type__code="portal-message-notice")
    assert [n.channel for n in notices] == ["sms"]


def test_no_portal_account_is_a_hard_bounce(daytime):
    expose()
    patient = make_client()
    with_account(patient, active=False)
    result = broadcast_create(message_type=ad_hoc(), channels=["portal"], description="Office news", recipients=None)
    [portal] = Delivery.objects.filter(broadcast=result.broadcast)
    send_now(daytime)
    portal = refreshed(portal)
    assert (portal.status, portal.bounce_category, portal.hard_bounce) == (Status.FAILED, "Bad-Mailbox", True)
    assert NO_ACCOUNT in portal.status_reason
    assert not Delivery.objects.filter(message_type__code="portal-message-notice").exists()


def test_portal_switched_off_after_send_is_our_configuration_not_a_bounce(daytime):
    expose()
    patient = make_client()
    with_account(patient)
    result = broadcast_create(message_type=ad_hoc(), channels=["portal"], description="Office news")
    expose(False)
    send_now(daytime)
    [portal] = Delivery.objects.filter(broadcast=result.broadcast)
    assert portal.status == Status.FAILED and "setting 620" in portal.status_reason
    assert not portal.hard_bounce


def test_forgot_password_sends_a_link_and_then_the_371_message(client):
    expose()
    patient = make_client(email="rosa@example.org", preferred=ContactMethod.TEXT)
    with_account(patient)
    staff = get_user_model().objects.create_user("frontdesk", password="x", email="rosa@example.org")
    assert client.get("/portal/login/").content.decode().count("/portal/password/forgot/") == 1
    response = client.post("/portal/password/forgot/", {"email": "ROSA@example.org"})
    assert response.status_code == 302 and response["Location"] == "/portal/password/forgot/sent/"
    [link_mail] = mail.outbox  # the portal login only, never the staff account with that address
    assert '"rosa"' in link_mail.body and staff.username not in link_mail.body
    link = re.search(r"http://testserver(/portal/password/reset/\S+/)", link_mail.body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "Choose a new password" in form_page.content.decode()
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Another-strong-pass-42", "new_password2": "Another-strong-pass-42"},
    )
    assert response.status_code == 302 and response["Location"] == "/portal/login/"
    [change] = Delivery.objects.filter(client=patient, message_type__code="portal-password-change")
    assert change.channel == "sms" and change.status == Status.QUEUED
    assert get_user_model().objects.get(username="rosa").check_password("Another-strong-pass-42")


def test_forgot_password_pages_do_not_exist_while_the_portal_is_hidden(client):
    expose(False)
    assert client.get("/portal/password/forgot/").status_code == 404
    assert client.post("/portal/password/forgot/", {"email": "a@example.org"}).status_code == 404
    assert not mail.outbox
