"""Issue 15: one phone format on every messaging screen (national for the clinic's country, international
for others); what is stored and sent stays E.164."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.template import Context, Template
from django.urls import reverse

from clients.services import client_contact_update
from clients.tests.factories import make_client
from messaging.history import COLUMNS, DEFAULT_COLUMNS
from messaging.models import Delivery, Status
from messaging.tests.dispatch_support import make_delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user("frontdesk", password="x")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_history", "view_client", "change_client"]))
    client.force_login(user)
    return user


def _cell(delivery: Delivery) -> str:
    row = {"address": delivery.address, "channel": delivery.channel}
    return COLUMNS["address"].value(row).text


def test_history_address_cell_and_csv():
    local = make_delivery(channel="sms", address="+13035550199")
    abroad = make_delivery(channel="voice", address="+442079460958")
    email = make_delivery(channel="email", address="a.b@example.org")
    assert _cell(local) == "(303) 555-0199"
    assert _cell(abroad) == "+44 20 7946 0958"
    assert _cell(email) == "a.b@example.org"
    assert COLUMNS["address"].csv_value({"address": local.address, "channel": "sms"}) == "+13035550199"
    assert Delivery.objects.get(pk=local.pk).address == "+13035550199"  # stored as it was


def test_history_page_and_delivery_detail(client, staff):
    first = make_delivery(channel="sms", address="+13035550199", status=Status.FAILED, recipient_name="")
    html = client.get(reverse("messaging:history")).content.decode()
    assert "(303) 555-0199" in html and "+13035550199" not in html
    detail = client.get(reverse("messaging:delivery-detail", args=[first.pk])).content.decode()
    assert "(303) 555-0199" in detail and "+13035550199" not in detail.split("<pre", 1)[0]


def test_chart_messages_change_values(client, staff):
    c = make_client(cell_phone="+13035550100")
    client_contact_update(client=c, data={"cell_phone": "+13035550101"}, user=staff)
    html = client.get(reverse("messaging:chart-messages", args=[c.pk])).content.decode()
    assert "(303) 555-0100 → (303) 555-0101" in html


def test_phone_filter_in_templates():
    out = Template("{% load phones %}{{ a|phone }}|{{ b|phone }}|{{ c|phone }}").render(
        Context({"a": "+13035550199", "b": "+33142685300", "c": "x@y.org"})
    )
    assert out == "(303) 555-0199|+33 1 42 68 53 00|x@y.org"


def test_default_history_columns_leave_out_the_wide_ones():
    assert "attempts" not in DEFAULT_COLUMNS and "broadcast" not in DEFAULT_COLUMNS
    assert DEFAULT_COLUMNS[:3] == ("sent_at", "recipient", "recipient_type")
    assert all(COLUMNS[k].wrap for k in ("description", "address", "message_type"))
