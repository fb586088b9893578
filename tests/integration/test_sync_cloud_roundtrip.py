"""Contacts and activities of a Microsoft 365 and a Gmail mailbox, end to end through the CLI:
`mailbox edit --sync`, `sync --once` both ways against the Graph and Google test servers, and a
change made on both sides that keeps the account's version and puts ours in the history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from postroom.domain.settings import OAuthProvider, Protocol
from postroom.services.oauth_apps import DEFAULT_SCOPES, scopes_for
from postroom.storage.models import OAuthApp
from tests.conftest import Cli
from tests.integration.oauthhelpers import add_apps, add_cloud_servers, connect, ok
from tests.mailfactory import email_from
from tests.servers.gmail import GmailServer
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer

SOON = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=2)


class Account:
    """The account as its owner sees it in Outlook or Google: one face over both servers."""

    address: str
    app: str
    server: str

    def deliver(self, raw: bytes) -> None:
        raise NotImplementedError

    def add_contact(self, email: str, name: str, company: str) -> str:
        raise NotImplementedError

    def set_company(self, remote_id: str, company: str) -> None:
        raise NotImplementedError

    def contacts(self) -> dict[str, str]:
        """email -> company"""
        raise NotImplementedError

    def add_event(self, title: str, start: datetime) -> str:
        raise NotImplementedError

    def rename_event(self, remote_id: str, title: str) -> None:
        raise NotImplementedError

    def events(self) -> dict[str, dict[str, Any]]:
        """title -> attendees, text shown with it (body, link), start"""
        raise NotImplementedError


@dataclass
class Outlook(Account):
    graph: GraphServer
    address: str = "desk@contoso.test"
    app: str = "m365"
    server: str = "graph"

    def deliver(self, raw: bytes) -> None:
        self.graph.deliver(self.address, [raw])

    def add_contact(self, email: str, name: str, company: str) -> str:
        fields = {"displayName": name, "emailAddresses": [{"address": email}]}
        return self.graph.add_item(self.address, "contacts", fields | {"companyName": company})

    def set_company(self, remote_id: str, company: str) -> None:
        self.graph.change_item(self.address, "contacts", remote_id, companyName=company)

    def contacts(self) -> dict[str, str]:
        return {
            c["emailAddresses"][0]["address"]: c["companyName"]
            for c in self.graph.all_items(self.address, "contacts")
        }

    def add_event(self, title: str, start: datetime) -> str:
        def when(moment: datetime) -> dict[str, str]:
            return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}

        fields = {"subject": title, "start": when(start), "end": when(start + timedelta(hours=1))}
        return self.graph.add_item(self.address, "events", fields)

    def rename_event(self, remote_id: str, title: str) -> None:
        self.graph.change_item(self.address, "events", remote_id, subject=title)

    def events(self) -> dict[str, dict[str, Any]]:
        return {
            e["subject"]: {
                "attendees": [a["emailAddress"]["address"] for a in e["attendees"]],
                "text": e["body"]["content"],
                "start": e["start"]["dateTime"][:16],
            }
            for e in self.graph.all_items(self.address, "events")
        }


@dataclass
class Google(Account):
    gmail: GmailServer
    address: str = "ann@gmail.test"
    app: str = "google"
    server: str = "gmail"

    def deliver(self, raw: bytes) -> None:
        self.gmail.deliver(self.address, [raw])

    def add_contact(self, email: str, name: str, company: str) -> str:
        return self.gmail.add_person(
            self.address,
            {
                "names": [{"unstructuredName": name}],
                "emailAddresses": [{"value": email}],
                "organizations": [{"name": company}],
            },
        )

    def set_company(self, remote_id: str, company: str) -> None:
        self.gmail.change(self.address, remote_id, organizations=[{"name": company}])

    def contacts(self) -> dict[str, str]:
        return {
            p.fields["emailAddresses"][0]["value"]: p.fields["organizations"][0]["name"]
            if p.fields.get("organizations")
            else ""
            for p in self.gmail.live(self.address, "people")
        }

    def add_event(self, title: str, start: datetime) -> str:
        end = start + timedelta(hours=1)
        fields = {
            "summary": title,
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": end.isoformat()},
        }
        return self.gmail.add_event(self.address, fields)

    def rename_event(self, remote_id: str, title: str) -> None:
        self.gmail.change(self.address, remote_id, summary=title)

    def events(self) -> dict[str, dict[str, Any]]:
        return {
            e.fields["summary"]: {
                "attendees": [a["email"] for a in e.fields.get("attendees", [])],
                "text": e.fields.get("description", "") + str(e.fields.get("source", "")),
                "start": datetime.fromisoformat(e.fields["start"]["dateTime"])
                .astimezone(UTC)
                .strftime("%Y-%m-%dT%H:%M"),
            }
            for e in self.gmail.live(self.address, "events")
        }


@pytest.fixture(params=["graph", "gmail"])
def account(request: pytest.FixtureRequest, cloud: IdentityServer, cli: Cli) -> Account:
    """A signed-in mailbox of that provider with contacts and calendar switched on."""
    if request.param == "graph":
        graph: GraphServer = request.getfixturevalue("graph")
        found: Account = Outlook(graph)
        add_cloud_servers(cli, graph, None)
    else:
        gmail: GmailServer = request.getfixturevalue("gmail")
        found = Google(gmail)
        add_cloud_servers(cli, None, gmail)
    add_apps(cli)
    ok(cli, "workflow", "add", "Support", "--steps", "New,Triage,Done")
    ok(
        cli,
        "mailbox",
        "add",
        found.address,
        "--incoming",
        found.server,
        "--outgoing",
        found.server,
        "--oauth-app",
        found.app,
        "--workflow",
        "Support",
    )
    ok(cli, "mailbox", "edit", found.address, "--sync", "contacts,calendar")
    connect(cli, cloud, found.address, found.app)  # asks for the sync scopes too
    return found


def _sync(cli: Cli, address: str) -> dict[str, dict[str, Any]]:
    runs = ok(cli, "sync", "--once", "--mailbox", address)
    assert all(r["ok"] for r in runs), runs
    return {r["kind"]: r for r in runs}


def test_contacts_and_activities_sync_both_ways_and_a_conflict_keeps_both_versions(
    account: Account, cli: Cli
) -> None:
    address = account.address
    bob = account.add_contact("bob@example.org", "Bob Stone", "Initech")
    review = account.add_event("Quarterly review", SOON)

    runs = _sync(cli, address)

    assert (runs["contacts"]["pulled"], runs["calendar"]["pulled"]) == (1, 1)
    [contact] = ok(cli, "contact", "list", "--mailbox", address)
    assert (contact["email"], contact["name"], contact["company"]) == (
        "bob@example.org",
        "Bob Stone",
        "Initech",
    )
    assert [a["title"] for a in ok(cli, "activity", "list", "--mailbox", address)] == [
        "Quarterly review"
    ]

    # Made in postroom: a contact, and a follow-up on a request, reach the account.
    account.deliver(email_from("carol@example.org", subject="Printer on fire", to=address))
    ok(cli, "fetch", "--once")
    [request] = ok(cli, "request", "list")
    ok(cli, "contact", "add", "--mailbox", address, "--email", "carol@example.org",
       "--name", "Carol Reyes", "--company", "Acme")  # fmt: skip
    start = SOON + timedelta(days=1)
    ok(cli, "activity", "add", "--mailbox", address, "--request", str(request["id"]),
       "--title", "Call Carol back", "--start", start.isoformat(),
       "--end", (start + timedelta(minutes=30)).isoformat())  # fmt: skip

    runs = _sync(cli, address)

    assert (runs["contacts"]["pushed"], runs["calendar"]["pushed"]) == (1, 1)
    assert account.contacts() == {"bob@example.org": "Initech", "carol@example.org": "Acme"}
    follow_up = account.events()["Call Carol back"]
    assert follow_up["attendees"] == ["carol@example.org"]
    assert follow_up["start"] == start.strftime("%Y-%m-%dT%H:%M")
    assert f"/requests/{request['id']}" in follow_up["text"]
    assert not any(c["pending"] for c in ok(cli, "contact", "list", "--mailbox", address))
    assert _sync(cli, address)["contacts"]["pulled"] == 0  # our own writes do not come back

    # Changed on both sides: the account wins, our version is kept in the history.
    ok(cli, "contact", "edit", str(contact["id"]), "--company", "Ours Ltd")
    account.set_company(bob, "Theirs plc")
    account.rename_event(review, "Quarterly review (moved room)")

    runs = _sync(cli, address)

    assert runs["contacts"]["conflicts"] == 1
    shown = ok(cli, "contact", "show", str(contact["id"]))
    assert shown["company"] == "Theirs plc" and not shown["pending"]
    assert [h["data"]["company"] for h in shown["history"]] == ["Ours Ltd"]
    assert account.contacts()["bob@example.org"] == "Theirs plc"
    titles = [a["title"] for a in ok(cli, "activity", "list", "--mailbox", address)]
    assert "Quarterly review (moved room)" in titles


def test_an_expired_cursor_lists_everything_again_without_doubles_and_drops_the_deleted(
    account: Account, cli: Cli
) -> None:
    address = account.address
    for n in range(3):
        account.add_contact(f"c{n}@example.org", f"Contact {n}", "Initech")
    _sync(cli, address)
    if isinstance(account, Outlook):
        gone = next(
            c["id"]
            for c in account.graph.all_items(address, "contacts")
            if c["emailAddresses"][0]["address"] == "c1@example.org"
        )
        account.graph.remove_item(address, "contacts", gone)
        account.graph.forget_delta_links()
    else:
        assert isinstance(account, Google)
        gone = next(
            f"people/{p.id}"
            for p in account.gmail.live(address, "people")
            if p.fields["emailAddresses"][0]["value"] == "c1@example.org"
        )
        account.gmail.remove(address, gone)
        account.gmail.expire_sync_tokens()

    _sync(cli, address)

    emails = sorted(c["email"] for c in ok(cli, "contact", "list", "--mailbox", address))
    assert emails == ["c0@example.org", "c2@example.org"]


def test_removed_here_is_deleted_on_the_account_unless_the_account_changed_it(
    account: Account, cli: Cli
) -> None:
    address = account.address
    bob = account.add_contact("bob@example.org", "Bob Stone", "Initech")
    account.add_contact("eve@example.org", "Eve Park", "Initech")
    account.add_event("Quarterly review", SOON)
    _sync(cli, address)
    by_email = {c["email"]: c for c in ok(cli, "contact", "list", "--mailbox", address)}
    [review] = ok(cli, "activity", "list", "--mailbox", address)

    ok(cli, "contact", "remove", str(by_email["eve@example.org"]["id"]))
    ok(cli, "contact", "remove", str(by_email["bob@example.org"]["id"]))
    ok(cli, "activity", "remove", str(review["id"]))
    account.set_company(bob, "Theirs plc")  # Bob changes on the account meanwhile

    runs = _sync(cli, address)

    assert (runs["contacts"]["deleted"], runs["contacts"]["conflicts"]) == (1, 1)
    assert runs["calendar"]["deleted"] == 1
    assert account.contacts() == {"bob@example.org": "Theirs plc"}
    assert account.events() == {}
    [kept] = ok(cli, "contact", "list", "--mailbox", address)
    assert (kept["email"], kept["company"], kept["pending"]) == (
        "bob@example.org",
        "Theirs plc",
        False,
    )
    shown = ok(cli, "contact", "show", str(kept["id"]))
    assert [h["reason"] for h in shown["history"]] == [
        "deleted here while changed on the account: the account's version was kept"
    ]
    assert ok(cli, "activity", "list", "--mailbox", address) == []
    again = _sync(cli, address)
    assert (again["contacts"]["pulled"], again["calendar"]["pulled"]) == (0, 0)


@pytest.mark.parametrize("account", ["graph"], indirect=True)
def test_a_full_calendar_listing_deletes_only_activities_inside_the_window_it_lists(
    account: Account, cli: Cli
) -> None:
    """Graph lists a calendarView window (a year back, a year ahead): an activity outside it
    is not missing from a full relisting because it was deleted, so it stays."""
    assert isinstance(account, Outlook)
    address = account.address
    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=800)
    ended = long_ago + timedelta(hours=1)
    ok(cli, "activity", "add", "--mailbox", address, "--title", "Old kick-off",
       "--start", long_ago.isoformat(), "--end", ended.isoformat())  # fmt: skip
    soon = account.add_event("Planning", SOON)
    account.add_event("Review", SOON + timedelta(days=1))
    runs = _sync(cli, address)
    assert (runs["calendar"]["pulled"], runs["calendar"]["pushed"]) == (2, 1)
    assert set(account.events()) == {"Old kick-off", "Planning", "Review"}

    account.graph.remove_item(address, "events", soon)
    account.graph.forget_delta_links()  # the next pass lists the window in full
    runs = _sync(cli, address)

    assert runs["calendar"]["deleted"] == 1
    titles = sorted(a["title"] for a in ok(cli, "activity", "list", "--mailbox", address))
    assert titles == ["Old kick-off", "Review"]


def test_a_sign_in_without_the_sync_scopes_fails_only_the_sync_until_reconnected(
    account: Account, cli: Cli, cloud: IdentityServer
) -> None:
    """Sync switched on after the sign-in: the token lacks the scopes, the provider answers
    403, and the sync says to reconnect; mail goes on. The reconnect asks for them."""
    address = account.address
    ok(cli, "mailbox", "edit", address, "--sync", "none")
    connect(cli, cloud, address, account.app)  # a sign-in for mail only
    ok(cli, "mailbox", "edit", address, "--sync", "contacts,calendar")
    account.add_contact("bob@example.org", "Bob Stone", "Initech")

    failed = cli("sync", "--once", "--mailbox", address, "--json")

    assert failed.code == 1
    runs = {r["kind"]: r for r in json.loads(failed.stdout)}
    wanted = {"graph": ("Contacts.ReadWrite", "Calendars.ReadWrite"),
              "gmail": ("auth/contacts", "auth/calendar.events")}[account.server]  # fmt: skip
    for kind, scope in zip(("contacts", "calendar"), wanted, strict=True):
        assert runs[kind]["failure"] == "sync-scope-missing"
        assert scope in runs[kind]["error"] and "Reconnect the mailbox" in runs[kind]["error"]
    shown = ok(cli, "mailbox", "show", address)
    assert shown["state"] != "needs-reconnect" and not shown["last_error"]
    account.deliver(email_from("carol@example.org", subject="Still working", to=address))
    ok(cli, "fetch", "--once")
    assert [r["subject"] for r in ok(cli, "request", "list")] == ["Still working"]

    connect(cli, cloud, address, account.app)  # the reconnect asks for the sync scopes

    runs = _sync(cli, address)
    assert runs["contacts"]["pulled"] == 1
    cloud.expire_access_tokens()  # the renewal asks for them again
    assert _sync(cli, address)["contacts"]["ok"]


def test_an_access_token_the_provider_refuses_is_renewed_once_and_the_sync_goes_on(
    account: Account, cli: Cli, cloud: IdentityServer
) -> None:
    address = account.address
    _sync(cli, address)
    account.add_contact("bob@example.org", "Bob Stone", "Initech")
    cloud.expire_access_tokens()  # postroom still thinks its token has an hour to live

    runs = _sync(cli, address)

    assert runs["contacts"]["pulled"] == 1
    assert [c["email"] for c in ok(cli, "contact", "list", "--mailbox", address)] == [
        "bob@example.org"
    ]
    assert ok(cli, "mailbox", "show", address)["state"] != "needs-reconnect"


def test_the_sign_in_asks_for_the_sync_scopes_only_of_what_a_cloud_mailbox_syncs() -> None:
    microsoft = OAuthApp(provider="microsoft", scopes=DEFAULT_SCOPES[OAuthProvider.MICROSOFT])
    google = OAuthApp(provider="google", scopes=DEFAULT_SCOPES[OAuthProvider.GOOGLE])
    graph = scopes_for(microsoft, {Protocol.GRAPH}, ("contacts", "calendar")).split()
    assert "https://graph.microsoft.com/Contacts.ReadWrite" in graph
    assert "https://graph.microsoft.com/Calendars.ReadWrite" in graph
    assert "https://graph.microsoft.com/Mail.ReadWrite" in graph
    mail_only = scopes_for(microsoft, {Protocol.GRAPH}).split()
    assert not any("Contacts" in s or "Calendars" in s for s in mail_only)
    imap = scopes_for(microsoft, {Protocol.IMAP}, ("contacts",)).split()  # synced over DAV
    assert not any("Contacts" in s for s in imap)
    gmail = scopes_for(google, {Protocol.GMAIL}, ("calendar",)).split()
    assert "https://www.googleapis.com/auth/calendar.events" in gmail
    assert "https://www.googleapis.com/auth/contacts" not in gmail
