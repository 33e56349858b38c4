"""The searchable client list of Clients > Client Management."""

from __future__ import annotations

import pytest

from clients.selectors import client_list
from clients.tests.factories import make_client

pytestmark = pytest.mark.django_db


def test_client_list_search():
    a = make_client(first_name="Marisol", last_name="Quintero", email="mq@example.org")
    make_client(first_name="Other", last_name="Person")
    assert list(client_list(query="quint")) == [a]
    assert list(client_list(query="mq@example")) == [a]
    assert list(client_list(query=str(a.cell_phone)[-7:])) == [a]
    assert a in client_list(query=str(a.pk))
