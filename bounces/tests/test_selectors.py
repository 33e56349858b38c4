"""blocked_addresses: one query for any number of addresses, address and domain entries."""

from __future__ import annotations

import pytest

from bounces.models import DoNotSendEntry
from bounces.selectors import blocked_addresses

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("count", [3, 250])  # 250 takes the array-parameter path on PostgreSQL
def test_blocked_addresses_finds_address_and_domain_entries(count, django_assert_num_queries):
    DoNotSendEntry.objects.create(channel="email", address="gone@example.org", reason="hard_bounce")
    DoNotSendEntry.objects.create(channel="email", address="blocked.example", is_domain=True, reason="staff")
    DoNotSendEntry.objects.create(channel="sms", address="ok1@example.org", reason="staff")  # other channel
    addresses = [f"ok{i}@example.org" for i in range(count)] + ["Gone@Example.org", "anyone@blocked.example"]
    with django_assert_num_queries(1):
        result = blocked_addresses("email", addresses)
    assert set(result) == {"gone@example.org", "anyone@blocked.example"}
    assert result["anyone@blocked.example"].is_domain


def test_removed_entries_do_not_block():
    DoNotSendEntry.objects.create(channel="sms", address="+16175550142", reason="sms_stop", active=False)
    assert blocked_addresses("sms", ["+16175550142"]) == {}
