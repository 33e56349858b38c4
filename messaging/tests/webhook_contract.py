"""The security contract every provider webhook honours; each webhook's test class inherits it.

* a forged request (bad signature / wrong credentials) is refused (403) and changes nothing;
* a request without authentication is refused (403, or 401 with basic auth) and changes nothing;
* an unknown token answers 200 and changes nothing (no retry storms, no information leak);
* a replayed request (three times) leaves the same state as one, with one event stored.

A subclass says how to build a target delivery, the URL path, a valid payload, and how to post
it (signed or authenticated, or forged); ``assert_applied`` checks what one valid request did.
"""

from __future__ import annotations

from typing import Any

from messaging.models import Attempt, Delivery, ProviderEvent, Status
from messaging.tests.dispatch_support import make_delivery, refreshed


def state(delivery: Delivery) -> tuple[Any, ...]:
    delivery = refreshed(delivery)
    return (
        delivery.status,
        delivery.provider_message_id,
        delivery.bounce_category,
        delivery.redial_count,
        delivery.resend_count,
        delivery.next_attempt_at,
        ProviderEvent.objects.count(),
    )


class WebhookContract:
    channel = "sms"
    provider_id = "SM00000000000000000000000000000001"
    unauthenticated_status = 403

    # --- what a subclass provides
    def path(self, token: str) -> str:
        raise NotImplementedError

    def payload(self, delivery: Delivery) -> dict[str, Any]:
        raise NotImplementedError

    def post(self, http: Any, path: str, payload: dict[str, Any], *, auth: str = "valid") -> Any:
        """``auth``: "valid", "forged" or "none"."""
        raise NotImplementedError

    def assert_applied(self, delivery: Delivery, response: Any) -> None:
        raise NotImplementedError

    def target(self) -> Delivery:
        """A delivery the provider has accepted (attempt 1 with the provider's id)."""
        delivery = make_delivery(
            channel=self.channel, status=Status.SENT, provider_message_id=self.provider_id, attempt_count=1
        )
        Attempt.objects.create(delivery=delivery, number=1, provider_message_id=self.provider_id, outcome="accepted")
        return delivery

    # --- the contract
    def test_valid_request_is_applied(self, client: Any, daytime: Any) -> None:
        delivery = self.target()
        response = self.post(client, self.path(delivery.token), self.payload(delivery))
        assert response.status_code == 200
        self.assert_applied(refreshed(delivery), response)

    def test_forged_request_is_refused_without_change(self, client: Any, daytime: Any) -> None:
        delivery = self.target()
        before = state(delivery)
        response = self.post(client, self.path(delivery.token), self.payload(delivery), auth="forged")
        assert response.status_code == 403
        assert state(delivery) == before

    def test_unauthenticated_request_is_refused_without_change(self, client: Any, daytime: Any) -> None:
        delivery = self.target()
        before = state(delivery)
        response = self.post(client, self.path(delivery.token), self.payload(delivery), auth="none")
        assert response.status_code == self.unauthenticated_status
        assert state(delivery) == before

    def test_unknown_token_answers_200_without_change(self, client: Any, daytime: Any) -> None:
        delivery = self.target()
        before = state(delivery)
        response = self.post(client, self.path("no-such-token-" + "x" * 20), self.payload(delivery))
        assert response.status_code == 200
        assert state(delivery) == before

    def test_replay_is_idempotent(self, client: Any, daytime: Any) -> None:
        delivery = self.target()
        payload = self.payload(delivery)
        first = self.post(client, self.path(delivery.token), payload)
        after_one = state(delivery)
        for _ in range(2):
            again = self.post(client, self.path(delivery.token), payload)
            assert again.status_code == first.status_code == 200
        assert state(delivery) == after_one
        assert ProviderEvent.objects.filter(delivery=delivery).count() <= 1
