"""Find settings in the console, without a browser: a guessed host says so and an administrator
is offered the server form filled with it; a user gets the reason and nothing else."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Api
from tests.api.test_sign_in import sign_in
from tests.discovery.loopback import CLOSED_PORTS
from tests.servers.dns import DnsServer
from tests.servers.greeter import Greeter

pytestmark = pytest.mark.usefixtures("loopback_env", "loopback_only")


def test_a_guessed_host_says_so_and_an_admin_may_add_it_as_a_server(
    client: TestClient, admin: Api, dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns_server.add("imap.guess.test. 60 IN A 127.0.0.1")
    with Greeter(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready.\r\n") as greeter:
        monkeypatch.setenv(
            "POSTROOM_DISCOVERY_PROBE_PORTS",
            json.dumps({**CLOSED_PORTS, "imap/starttls": greeter.port}),
        )
        csrf = sign_in(client, admin.email)
        answer = client.post(
            "/discover/mailbox-servers",
            data={"address": "desk@guess.test"},
            headers={"X-CSRF-Token": csrf},
        )
    assert answer.status_code == 200, answer.text
    assert f"imap imap.guess.test:{greeter.port} (starttls)" in answer.text
    assert "guessed — check before saving" in answer.text
    assert bytes(greeter.received) == b""
    link = re.search(r'<a href="([^"]+)">add this server</a>', answer.text)
    assert link is not None
    form = client.get(link.group(1).replace("&amp;", "&"))
    assert 'value="imap.guess.test"' in form.text and f'value="{greeter.port}"' in form.text


def test_a_bad_address_is_shown_in_the_form(client: TestClient, ann: Api) -> None:
    csrf = sign_in(client, ann.email)
    answer = client.post(
        "/discover/mailbox-servers", data={"address": "ann@"}, headers={"X-CSRF-Token": csrf}
    )
    assert answer.status_code == 200
    assert 'class="error" role="alert"' in answer.text
    assert "add this server" not in answer.text


def test_find_settings_needs_the_forms_security_token(client: TestClient, ann: Api) -> None:
    sign_in(client, ann.email)
    answer = client.post("/discover/mailbox-servers", data={"address": "ann@example.test"})
    assert answer.status_code == 403
