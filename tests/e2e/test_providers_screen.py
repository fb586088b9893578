"""The Creatio seed's provider domains in chromium: an own provider added over the servers an
administrator set up, edited (servers, domains), a domain refused while another provider has
it, a domain given to a built-in provider, and the provider removed; the CLI sees each change."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from postroom.services import servers
from postroom.services.actors import OPERATOR
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from tests.conftest import Cli
from tests.e2e.conftest import Shoot
from tests.e2e.test_console import add_user, sign_in


def _shown(cli: Cli, name: str) -> dict[str, object]:
    result = cli("provider", "show", name, "--json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_an_admin_manages_providers_and_their_domains(
    page: Page, cli: Cli, screenshot: Shoot
) -> None:
    with unit_of_work() as db:
        for name, protocol, port in (("hosted-imap", "imap", 993), ("hosted-smtp", "smtp", 465)):
            spec = ServerSpec(name=name, protocol=protocol, host="mail.hosted.test", port=port)
            servers.add(db, OPERATOR, spec)
    add_user("admin@example.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@example.test", "admin-pass-1")
    page.get_by_role("link", name="Providers").click()
    expect(page.get_by_role("cell", name="Microsoft 365")).to_be_visible()

    page.get_by_role("button", name="Add the provider").click()  # no name: the browser stops it
    page.get_by_label("Name", exact=True).fill("hosted")
    page.get_by_role("button", name="Add the provider").click()
    expect(page.locator(".error")).to_contain_text("at least one server")
    page.get_by_label("Name shown").fill("Hosted mail")
    page.get_by_label("hosted-imap").check()
    page.get_by_label("Domains").fill("acme.test, acme-group.test")
    page.get_by_role("button", name="Add the provider").click()
    expect(page.get_by_role("status")).to_contain_text("The provider was added")
    expect(page.get_by_role("cell", name="acme-group.test, acme.test")).to_be_visible()
    assert _shown(cli, "hosted")["servers"] == ["hosted-imap"]

    page.get_by_role("link", name="Edit provider hosted").click()
    expect(page.get_by_label("hosted-imap")).to_be_checked()
    page.get_by_label("hosted-smtp").check()
    page.get_by_label("Domains").fill("acme.test, acme.example")
    page.get_by_role("button", name="Save the provider").click()
    expect(page.get_by_role("status")).to_contain_text("The provider was saved")
    data = _shown(cli, "hosted")
    assert data["servers"] == ["hosted-imap", "hosted-smtp"]
    assert data["added_domains"] == ["acme.example", "acme.test"]

    # A built-in provider takes more domains; one another provider has is refused.
    page.get_by_role("link", name="Edit provider microsoft365").click()
    page.get_by_label("Domains").fill("acme.test")
    page.get_by_role("button", name="Save the provider").click()
    expect(page.get_by_role("alert")).to_contain_text("already belongs to provider 'hosted'")
    page.get_by_label("Domains").fill("contoso-group.test")
    page.get_by_role("button", name="Save the provider").click()
    expect(page.get_by_role("status")).to_contain_text("The provider was saved")
    assert _shown(cli, "microsoft365")["added_domains"] == ["contoso-group.test"]
    screenshot(page, "providers")

    page.get_by_role("button", name="Remove provider hosted").click()
    expect(page.get_by_role("status")).to_contain_text("The provider was removed")
    expect(page.get_by_role("link", name="Edit provider hosted")).to_have_count(0)
    assert cli("provider", "show", "hosted").code != 0
