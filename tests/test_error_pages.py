"""The product's own 404 and 403 pages (in the site's layout) and a plain 500 page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string

pytestmark = pytest.mark.django_db


def test_unknown_address_shows_the_products_not_found_page(client):
    client.force_login(get_user_model().objects.create_user("someone", password="x"))
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Not found</h1>" in html and 'class="topbar"' in html


def test_missing_permission_shows_the_products_not_allowed_page(client):
    client.force_login(get_user_model().objects.create_user("no-perms", password="x"))
    response = client.get("/messaging/history/")
    assert response.status_code == 403
    assert "<h1>Not allowed</h1>" in response.content.decode()


def test_server_error_page_needs_no_context():
    assert "Something went wrong" in render_to_string("500.html")


def test_the_favicon_is_served(client):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.ico")
    with open(finders.find("favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file
