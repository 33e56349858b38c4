"""get_twilio_client: redirection to the simulator, and one cached client per configuration."""

from __future__ import annotations

from twilio.http.http_client import TwilioHttpClient

from messaging.channels.twilio.client import (
    RedirectingHttpClient,
    clear_twilio_client_cache,
    get_twilio_client,
    rewrite_url,
)

BASE = "http://127.0.0.1:8025"


def test_rewrite_url_only_touches_twilio_hosts():
    assert rewrite_url("https://api.twilio.com/2010-04-01/A.json", BASE + "/") == (BASE + "/2010-04-01/A.json")
    assert rewrite_url("https://api.dublin.ie1.twilio.com/x", BASE) == BASE + "/x"
    assert rewrite_url("https://eviltwilio.com/x", BASE) == "https://eviltwilio.com/x"
    assert rewrite_url("https://api.twilio.com.evil.org/x", BASE).startswith("https://api")


def test_clients_are_cached_per_configuration():
    clear_twilio_client_cache()
    one = get_twilio_client(account_sid="AC1", auth_token="t", api_base=BASE)
    assert get_twilio_client(account_sid="AC1", auth_token="t", api_base=BASE + "/") is one
    assert get_twilio_client(account_sid="AC1", auth_token="t2", api_base=BASE) is not one
    assert isinstance(one.http_client, RedirectingHttpClient)
    real = get_twilio_client(account_sid="AC1", auth_token="t", api_base="")
    assert type(real.http_client) is TwilioHttpClient
    assert real.http_client.timeout == 15.0
    clear_twilio_client_cache()
