"""Fetch now in chromium, with a real worker (a scheduler outside the web app, as `postroom
worker` would be) and a real Dovecot: the button asks, the worker that owns the mailbox is woken
through the database, and the row shows the run until its result. The poll interval is an hour,
so only Fetch now can have fetched the mail."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from postroom.services import mailboxes, requests, servers, workflows
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox
from tests.e2e.conftest import Shoot
from tests.e2e.test_console import add_user, sign_in
from tests.e2e.worker import Worker
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot

HOUR = 3600


def test_fetch_now_wakes_the_owning_worker_and_shows_the_result(
    page: Page, dovecot: Dovecot, worker: Worker, screenshot: Shoot
) -> None:
    desk = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(desk, "desk-pass-1")
    with unit_of_work() as db:
        spec = ServerSpec(
            name="office-imap",
            protocol="imap",
            host="127.0.0.1",
            port=dovecot.imap_port,
            security="none",
        )
        servers.add(db, OPERATOR, spec)
        workflows.add(db, OPERATOR, "Support", ["New", "Done"])
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                address=desk,
                incoming="office-imap",
                system=True,
                password="desk-pass-1",
                workflow="Support",
                poll_interval=HOUR,
            ),
        )
    add_user("admin@example.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@example.test", "admin-pass-1")
    page.goto("/settings/mailboxes")
    # The worker's first look at a new mailbox; after it, the next poll is an hour away.
    expect(page.get_by_role("button", name=f"Fetch {desk} now")).to_be_visible()
    worker.wait_for_a_run(desk)
    dovecot.deliver(desk, [email_from(f"cust{i}@example.org", f"Case {i}") for i in range(7)])

    page.get_by_role("button", name=f"Fetch {desk} now").click()
    slug = desk.replace("@", "-at-").replace(".", "-")
    run = page.locator(f"#report-{slug} .fetch-run")
    expect(run).to_have_attribute("data-state", "waiting")  # committed before any worker saw it
    expect(run).to_contain_text("7 fetched, 7 requests opened, 0 held, 0 failed", timeout=20_000)
    expect(run).to_have_attribute("data-state", "done")
    screenshot(page, "fetch-now")
    with unit_of_work() as db:
        listed = requests.listing(db, None, 0)
        assert sorted(r["subject"] for r in listed) == [f"Case {i}" for i in range(7)]
        next_poll = db.get(Mailbox, mailboxes.get_system(db, OPERATOR, desk).id)
        assert next_poll is not None and next_poll.next_poll_at is not None


def test_a_user_fetches_their_own_mailbox_from_my_profile(
    page: Page, dovecot: Dovecot, worker: Worker
) -> None:
    address = f"ann-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(address, "ann-pass-9")
    add_user("ann@example.test", "ann-pass-1")
    sign_in(page, "ann@example.test", "ann-pass-1")
    with unit_of_work() as db:
        spec = ServerSpec(
            name="in", protocol="imap", host="127.0.0.1", port=dovecot.imap_port, security="none"
        )
        servers.add(db, OPERATOR, spec)
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                address=address,
                incoming="in",
                owner="ann@example.test",
                password="ann-pass-9",
                poll_interval=HOUR,
            ),
        )
    worker.wait_for_a_run(address)
    dovecot.deliver(address, [email_from("cust@example.org", "Personal case")])
    page.get_by_role("link", name="My profile").click()
    page.get_by_role("button", name=f"Fetch {address} now").click()
    slug = address.replace("@", "-at-").replace(".", "-")
    run = page.locator(f"#report-{slug} .fetch-run")
    # No workflow on a personal mailbox here: the email is kept as held mail, never lost.
    expect(run).to_contain_text("1 fetched, 0 requests opened, 1 held, 0 failed", timeout=20_000)
