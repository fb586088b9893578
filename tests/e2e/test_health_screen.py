"""Mailbox health in chromium over real Dovecot and a real SMTP server: the home page says what
needs attention (a failing mailbox, an uncertain email, held mail) with links to each, and each
mailbox's last 30 days is a small chart of messages and failures per day, with its last success
and next check. A user sees only what concerns their own mailboxes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from postroom.outbound.compose import Draft
from postroom.services import delivery, fetching, mailboxes, outbox, servers, workflows
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import Message
from tests.conftest import USERS
from tests.e2e.conftest import Shoot
from tests.e2e.test_console import add_user, sign_in
from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.scripted_smtp import Reply, ScriptedSmtpServer


def _address(dovecot: Dovecot, name: str) -> str:
    address = f"{name}-{uuid.uuid4().hex[:6]}@example.test"
    dovecot.add_user(address, "desk-pass-1")
    return address


@pytest.mark.usefixtures("trust_test_ca")
def test_the_home_page_shows_what_needs_attention_and_each_mailboxs_month(
    page: Page, dovecot: Dovecot, test_ca: TestCA, screenshot: Shoot
) -> None:
    desk, broken, unrouted = (_address(dovecot, n) for n in ("desk", "broken", "unrouted"))
    add_user("admin@example.test", "admin-pass-1", admin=True)
    add_user("ann@example.test", "ann-pass-1")
    with ScriptedSmtpServer(users=USERS, ca=test_ca, tls=True) as smtp:
        smtp.add_user(desk, "desk-pass-1")
        with unit_of_work() as db:
            for spec in (
                ServerSpec(
                    name="in", protocol="imap", host="127.0.0.1", port=dovecot.imap_port,
                    security="none",
                ),
                ServerSpec(
                    name="out", protocol="smtp", host="127.0.0.1", port=smtp.port,
                    security="starttls",
                ),
            ):  # fmt: skip
                servers.add(db, OPERATOR, spec)
            workflows.add(db, OPERATOR, "Support", ["New", "Done"])
            for address, password, workflow in (
                (desk, "desk-pass-1", "Support"),
                (broken, "not-the-password", "Support"),
                (unrouted, "desk-pass-1", None),
            ):
                mailboxes.add(
                    db,
                    OPERATOR,
                    MailboxSpec(
                        address=address,
                        incoming="in",
                        outgoing="out" if address == desk else None,
                        system=True,
                        password=password,
                        workflow=workflow,
                    ),
                )
        dovecot.deliver(desk, [email_from(f"c{i}@example.org", f"Case {i}") for i in range(5)])
        dovecot.deliver(unrouted, [email_from("who@example.org", "Nobody routes me")])
        runs = {r.address: r for r in fetching.fetch_once(default_engine())}
        assert runs[desk].ok and runs[unrouted].ok and not runs[broken].ok
        three_days_ago = datetime.now(UTC) - timedelta(days=3)
        with unit_of_work() as db:  # two of them came in three days ago
            desk_id = mailboxes.get_system(db, OPERATOR, desk).id
            older = select(Message.id).where(Message.mailbox_id == desk_id).limit(2)
            ids = list(db.scalars(older))
            db.execute(
                update(Message).where(Message.id.in_(ids)).values(received_at=three_days_ago)
            )
            draft = Draft(sender=desk, to=("cust@example.org",), subject="Re: Case 1", text="Done.")
            outbox.enqueue(db, OPERATOR, draft)
        smtp.script(Reply(drop_after_data=True))  # it got the email; did it deliver it?
        assert delivery.flush_once(default_engine()).uncertain == 1

    sign_in(page, "admin@example.test", "admin-pass-1")
    page.goto("/")
    attention = page.get_by_role("list", name="Needs attention")
    expect(attention).to_contain_text("1 mailbox failing")
    expect(attention).to_contain_text("1 outbox item uncertain")
    expect(attention).to_contain_text("1 held message waiting to be routed")
    today = datetime.now(UTC).date()
    desk_chart = page.get_by_role("img", name="Last 30 days: 5 messages, 0 failures")
    expect(desk_chart).to_be_visible()
    bars = desk_chart.locator("rect.messages title")
    expect(bars).to_have_text([f"{three_days_ago.date()}: 2 messages", f"{today}: 3 messages"])
    expect(page.get_by_role("img", name="Last 30 days: 0 messages, 1 failure")).to_be_visible()
    expect(page.get_by_role("img", name="Last 30 days: 1 message, 0 failures")).to_be_visible()
    broken_row = page.get_by_role("row").filter(has_text=broken)
    expect(broken_row).to_contain_text("auth-failed")
    expect(broken_row.get_by_role("cell").nth(3)).to_have_text("never")  # last success
    expect(broken_row.get_by_role("cell").nth(4)).to_contain_text(str(today.year))  # next check
    screenshot(page, "mailbox-health-attention")

    attention.get_by_role("link", name="outbox item uncertain").click()
    expect(page.get_by_label("State")).to_have_value("uncertain")
    expect(page.get_by_role("row").filter(has_text="Re: Case 1")).to_contain_text("uncertain")
    page.go_back()
    page.get_by_role("link", name="held message waiting to be routed").click()
    expect(page.get_by_role("cell", name="Nobody routes me")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "ann@example.test", "ann-pass-1")  # none of these mailboxes is hers
    page.goto("/")
    expect(page.get_by_text("Nothing needs attention")).to_be_visible()
    expect(page.get_by_role("img")).to_have_count(0)
