from __future__ import annotations

import pytest


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_login_and_home(logged_in_page, live_server):
    logged_in_page.goto(f"{live_server.url}/")
    assert "Utilities" in logged_in_page.content()
