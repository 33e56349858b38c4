"""Two-factor sign-in (TOTP): optional for staff, required for superusers in production (issue 13, row 10)."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-42"
LOGIN = "/accounts/login/"
PAGE = "/accounts/two-factor/"


def code_of(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time += steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def alice_with_app(alice):
    return TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=True)


def login(client, code=None, username="alice"):
    data = {"username": username, "password": PASSWORD}
    if code is not None:
        data["otp_token"] = code
    return client.post(LOGIN, data)


def test_without_an_app_the_password_is_enough(client, alice):
    assert login(client).status_code == 302
    assert client.get("/").status_code == 200


def test_with_an_app_the_code_is_needed(client, alice_with_app):
    response = login(client)
    assert response.status_code == 200 and "Enter the 6-digit code" in response.content.decode()
    response = login(client, code="000000" if code_of(alice_with_app) != "000000" else "111111")
    assert response.status_code == 200 and "not right" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_right_code_signs_in_and_verifies_the_session(client, alice_with_app):
    assert login(client, code=code_of(alice_with_app)).status_code == 302
    assert client.session.get("otp_device_id") == alice_with_app.persistent_id
    page = client.get(PAGE).content.decode()
    assert "Two-factor sign-in is <strong>on</strong>" in page


def test_a_staff_user_sets_up_an_app_then_needs_its_code(client, alice):
    client.force_login(alice)
    assert "Set up two-factor sign-in" in client.get(PAGE).content.decode()
    client.post(PAGE, {"action": "start"})
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    page = client.get(PAGE).content.decode()
    assert "<svg" in page and "Turn on" in page
    assert client.post(PAGE, {"action": "confirm", "code": "12"}).status_code == 302
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # a wrong code delays the next try (1 s, then 2 s, ...)
    device.throttle_reset()
    assert client.post(PAGE, {"action": "confirm", "code": code_of(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    client.logout()
    assert "_auth_user_id" not in client.session
    assert login(client).status_code == 200  # the password alone no longer signs in
    assert login(client, code=code_of(device, steps_ahead=1)).status_code == 302


def test_a_staff_user_may_turn_it_off(client, alice_with_app):
    login(client, code=code_of(alice_with_app))
    assert client.post(PAGE, {"action": "remove"}).status_code == 302
    assert not TOTPDevice.objects.exists()


def test_portal_accounts_have_no_two_factor_page(client, alice):
    from clients.models import PortalAccount
    from clients.tests.factories import make_client

    PortalAccount.objects.create(client=make_client(), user=alice)
    client.force_login(alice)
    response = client.get(PAGE)  # a portal session is sent to the portal from every staff page
    assert (response.status_code, response["Location"]) == (302, "/portal/")


# --- Superusers in production ------------------------------------------------------------------------


@pytest.fixture
def required(settings):
    settings.OTP_REQUIRED_FOR_SUPERUSERS = True
    return settings


@pytest.fixture
def boss():
    return get_user_model().objects.create_superuser("boss", password=PASSWORD)


def test_a_superuser_without_an_app_cannot_set_one_up_with_the_password_alone(client, required, boss):
    """Whoever holds the password would get the key: the page offers no set-up and shows no key, even
    for an app an administrator has started from the server."""
    assert login(client, username="boss").status_code == 302
    for url in ("/", "/admin/", "/messaging/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == PAGE, url
    page = client.get(PAGE).content.decode()
    assert "Superusers must sign in with two factors" in page and "enrol_two_factor boss" in page
    assert 'value="start"' not in page
    client.post(PAGE, {"action": "start"})
    assert not TOTPDevice.objects.filter(user=boss).exists()
    call_command("enrol_two_factor", "boss", stdout=io.StringIO())
    device = TOTPDevice.objects.get(user=boss)
    page = client.get(PAGE).content.decode()
    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    assert 'value="confirm"' in page and secret[:4] + " " + secret[4:8] not in page and "<svg" not in page
    assert client.get("/admin/").status_code == 302  # still only the two-factor page


def test_a_superuser_sets_up_the_app_an_administrator_enrolled(client, required, boss, tmp_path):
    out = io.StringIO()
    call_command("enrol_two_factor", "boss", "--qr", str(tmp_path / "key.svg"), stdout=out)
    device = TOTPDevice.objects.get(user=boss, confirmed=False)
    assert "otpauth://" in out.getvalue() and (tmp_path / "key.svg").read_bytes().startswith(b"<?xml")
    assert login(client, username="boss").status_code == 302
    client.post(PAGE, {"action": "confirm", "code": code_of(device)})
    assert client.get("/admin/").status_code == 200
    assert client.post(PAGE, {"action": "remove"}).status_code == 302
    assert TOTPDevice.objects.filter(user=boss, confirmed=True).exists()  # superusers keep it


def test_enrolling_again_needs_replace(required, boss):
    call_command("enrol_two_factor", "boss", stdout=io.StringIO())
    TOTPDevice.objects.filter(user=boss).update(confirmed=True)
    with pytest.raises(CommandError, match="--replace"):
        call_command("enrol_two_factor", "boss", stdout=io.StringIO())
    call_command("enrol_two_factor", "boss", "--replace", stdout=io.StringIO())
    assert list(TOTPDevice.objects.filter(user=boss).values_list("confirmed", flat=True)) == [False]
    with pytest.raises(CommandError, match="No user"):
        call_command("enrol_two_factor", "nobody", stdout=io.StringIO())


def test_a_superuser_with_an_app_signs_in_with_its_code(client, required, boss):
    device = TOTPDevice.objects.create(user=boss, name="Authenticator app", confirmed=True)
    assert login(client, username="boss").status_code == 200
    assert login(client, username="boss", code=code_of(device)).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_superuser_session_without_a_code_is_stopped(client, required, boss):
    device = TOTPDevice.objects.create(user=boss, name="Authenticator app", confirmed=True)
    client.force_login(boss)  # e.g. a session from before two-factor was required
    assert client.get("/admin/")["Location"] == PAGE
    assert client.post(PAGE, {"action": "verify", "code": code_of(device)}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_not_required_outside_production(client, settings, boss):
    settings.OTP_REQUIRED_FOR_SUPERUSERS = False
    client.force_login(boss)
    assert client.get("/admin/").status_code == 200


def test_admins_remove_a_lost_device_without_seeing_its_secret(client, boss, alice_with_app):
    client.force_login(boss)
    page = client.get(f"/admin/otp_totp/totpdevice/{alice_with_app.pk}/change/").content.decode()
    assert page and alice_with_app.key not in page and "qrcode" not in page.lower()
    client.post(f"/admin/otp_totp/totpdevice/{alice_with_app.pk}/delete/", {"post": "yes"})
    assert not TOTPDevice.objects.exists()
