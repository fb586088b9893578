"""A CardDAV/CalDAV server without sync-collection (Radicale behind a proxy that refuses the
REPORT): postroom lists the collection's etags in full each pass, and still brings changes,
additions and deletions made on the account, and writes its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Cli
from tests.integration.mailhelpers import add_server, cli_json
from tests.integration.test_sync_dav import (
    USERS,
    VCARD,
    _card,
    _contacts,
    _server_emails,
    _sync,
    radicale,
)
from tests.servers.dav_proxy import NoSyncCollectionProxy
from tests.servers.radicale import Radicale

__all__ = ["radicale"]


@pytest.fixture
def proxy(radicale: Radicale) -> Iterator[NoSyncCollectionProxy]:
    with NoSyncCollectionProxy(radicale.url) as running:
        yield running


def _mailbox(cli: Cli, proxy: NoSyncCollectionProxy) -> str:
    add_server(cli, "in", "imap", 1, "none", "--login-format", "local-part")
    added = cli("mailbox", "add", "ann@example.org", "--incoming", "in", "--password-stdin",
                input=USERS["ann"] + "\n")  # fmt: skip
    assert added.code == 0, added.stderr
    code, data = cli_json(cli, "mailbox", "edit", "ann@example.org", "--sync", "contacts",
                          "--dav-url", proxy.url + "ann/")  # fmt: skip
    assert code == 0, data
    return "ann@example.org"


def test_without_sync_collection_changes_additions_and_deletions_still_come_through(
    cli: Cli, radicale: Radicale, proxy: NoSyncCollectionProxy
) -> None:
    ann = _mailbox(cli, proxy)
    for who in ("jo", "kim"):
        radicale.put("ann", f"/ann/contacts/{who}.vcf", _card(who, f"{who}@x.example", who), VCARD)
    assert (
        cli("contact", "add", "--mailbox", ann, "--email", "pat@x.example", "--name", "Pat").code
        == 0
    )

    code, runs = _sync(cli)

    assert code == 0, runs
    assert proxy.refused == 1  # asked once, then listed in full
    assert (runs[0]["pulled"], runs[0]["pushed"]) == (2, 1)
    assert _server_emails(radicale, "ann") == ["jo@x.example", "kim@x.example", "pat@x.example"]

    # On the account: Kim changes, Jo goes, Lee comes.
    radicale.put(
        "ann", "/ann/contacts/kim.vcf", _card("kim", "kim@x.example", "Kim", "Kim Co"), VCARD
    )
    radicale.delete("ann", "/ann/contacts/jo.vcf")
    radicale.put("ann", "/ann/contacts/lee.vcf", _card("lee", "lee@x.example", "Lee"), VCARD)

    code, runs = _sync(cli)

    assert code == 0, runs
    assert (runs[0]["pulled"], runs[0]["deleted"], runs[0]["pushed"]) == (2, 1, 0)
    assert _contacts(cli, ann) == [
        ("kim@x.example", "Kim", "Kim Co", False),
        ("lee@x.example", "Lee", "", False),
        ("pat@x.example", "Pat", "", False),
    ]
    assert proxy.refused == 1  # the full listing is the cursor: not asked again

    code, runs = _sync(cli)  # nothing changed: nothing pulled, nothing deleted
    assert code == 0 and (runs[0]["pulled"], runs[0]["deleted"]) == (0, 0)
