"""Console behaviour that needs no browser: errors beside their field, refusals that name what
is in the way, and what a user's pages never show."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.conftest import Api, make_user
from tests.api.test_sign_in import sign_in


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<span class="error" id="{field}-error">([^<]*)</span>', html)
    assert found is not None, f"no error beside {field}"
    return found.group(1)


def test_a_refused_value_is_shown_beside_its_field_with_what_was_typed(
    client: TestClient, admin: Api
) -> None:
    csrf = sign_in(client, admin.email)
    form = {
        "csrf": csrf,
        "name": "office",
        "protocol": "imap",
        "host": "127.0.0.1",
        "port": "99999",
        "security": "tls",
        "connect_timeout": "15",
        "timeout": "60",
        "login_format": "address",
    }
    answer = client.post("/settings/servers/new", data=form)
    assert answer.status_code == 422
    assert "use a number from 1 to 65535" in field_error(answer.text, "port")
    assert 'value="99999"' in answer.text and 'value="office"' in answer.text
    timeout = client.post("/settings/servers/new", data=form | {"port": "", "timeout": "soon"})
    assert "not a number" in field_error(timeout.text, "timeout")
    assert admin.get("/servers").json()["items"] == []


def test_removing_a_server_in_use_is_refused_naming_its_mailboxes(
    client: TestClient, admin: Api
) -> None:
    admin.post("/servers", json={"name": "in", "protocol": "imap", "host": "127.0.0.1"})
    admin.post("/workflows", json={"name": "Support", "steps": ["New"]})
    admin.call("PATCH", "/workflows/Support", json={"active": False})
    admin.post(
        "/mailboxes",
        json={
            "address": "desk@example.test",
            "system": True,
            "incoming": "in",
            "password": "pw",
            "workflow": "Support",
        },
    )
    csrf = sign_in(client, admin.email)
    refused = client.post("/settings/servers/in/remove", data={"csrf": csrf})
    assert refused.status_code == 409
    assert "still used by 1 mailbox(es): desk@example.test" in refused.text
    page = client.get("/settings/mailboxes").text
    assert "workflow inactive: new mail is held, no request opens" in page


def test_a_users_pages_show_neither_administration_nor_other_peoples_mailboxes(
    client: TestClient, admin: Api, bob: Api
) -> None:
    admin.post("/servers", json={"name": "out", "protocol": "smtp", "host": "127.0.0.1"})
    bob.post(
        "/mailboxes",
        json={"address": "bob-private@example.test", "outgoing": "out", "password": "pw"},
    )
    make_user("ann@example.test")
    sign_in(client, "ann@example.test")
    for path in ("/", "/profile/mailboxes", "/requests", "/inbox"):
        page = client.get(path)
        assert page.status_code == 200
        assert "bob-private" not in page.text and "Mail settings" not in page.text
    refused = client.get("/settings/servers")
    assert refused.status_code == 403 and "Only administrators" in refused.text
