"""The outbox in chromium over a real SMTP server that accepts some recipients, refuses one and
defers another: the user reaches their sent mail from their mailbox, reads each recipient's
answer, narrows the list, retries a failed email (which is then sent) and a deferred one (sent
at once, not after its backoff), and cancels a queued one (which is then never sent); another
user sees none of it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from postroom.outbound.compose import Draft
from postroom.services import delivery, mailboxes, outbox, servers, users
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import default_engine, unit_of_work
from tests.conftest import USERS
from tests.e2e.conftest import Shoot
from tests.e2e.test_console import add_user, sign_in
from tests.servers.certs import TestCA
from tests.servers.scripted_smtp import Reply, ScriptedSmtpServer

ANN = "ann@example.test"
ANSWERS = {
    "gone@example.org": "550 5.1.1 No such user here",
    "full@example.org": "452 4.2.2 Mailbox full",
    "nobody@example.org": "550 5.1.1 No such user here",
}


def _queue(to: tuple[str, ...], subject: str) -> int:
    with unit_of_work() as db:
        ann = users.actor_for(users.get(db, ANN))
        draft = Draft(sender=ANN, to=to, subject=subject, text="Hello.")
        return outbox.enqueue(db, ann, draft).id


def _state(item_id: int) -> str:
    with unit_of_work() as db:
        return outbox.get(db, item_id).state


@pytest.mark.usefixtures("trust_test_ca")
def test_a_user_reads_retries_and_cancels_their_sent_mail(
    page: Page, test_ca: TestCA, screenshot: Shoot
) -> None:
    add_user(ANN, "ann-pass-1")
    add_user("bob@example.test", "bob-pass-1")
    sign_in(page, ANN, "ann-pass-1")
    with ScriptedSmtpServer(users=USERS, ca=test_ca, tls=True) as smtp:
        with unit_of_work() as db:
            spec = ServerSpec(
                name="out", protocol="smtp", host="127.0.0.1", port=smtp.port, security="starttls"
            )
            servers.add(db, OPERATOR, spec)
            mailboxes.add(
                db,
                OPERATOR,
                MailboxSpec(
                    address=ANN, outgoing="out", owner=ANN, username="ann", password="ann-pass-2"
                ),
            )
        mixed = _queue(
            ("ok@example.org", "gone@example.org", "full@example.org"), "Quarterly report"
        )
        lost = _queue(("nobody@example.org",), "Invoice 17")
        smtp.script(Reply(rcpt=ANSWERS), Reply(rcpt=ANSWERS))
        delivery.flush_once(default_engine())
        assert (_state(mixed), _state(lost)) == ("queued", "failed")  # full@ is tried again later

        page.get_by_role("link", name="My profile").click()
        page.get_by_role("link", name=f"Sent mail of {ANN}").click()
        expect(page).to_have_url(re.compile(r"/outbox\?mailbox=ann%40example.test"))
        row = page.locator(f"#outbox-{mixed}")
        expect(row.locator("li", has_text="ok@example.org")).to_contain_text("accepted")
        expect(row.locator("li", has_text="gone@example.org")).to_contain_text(
            "refused gone@example.org 550 5.1.1 No such user here"
        )
        expect(row.locator("li", has_text="full@example.org")).to_contain_text(
            "deferred full@example.org 452 4.2.2 Mailbox full"
        )
        expect(page.locator(f"#outbox-{lost}")).to_contain_text("failed")
        screenshot(page, "outbox")

        page.get_by_label("Recipient").fill("gone@")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator(f"#outbox-{mixed}")).to_be_visible()
        expect(page.locator(f"#outbox-{lost}")).to_have_count(0)

        page.get_by_label("Recipient").fill("")
        page.get_by_label("State").select_option("failed")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator(f"#outbox-{mixed}")).to_have_count(0)
        expect(page.get_by_role("button", name=f"Cancel outbox item {lost}")).to_have_count(0)
        smtp.script()  # the person fixed the address on the other side: now it is accepted
        page.get_by_role("button", name=f"Retry outbox item {lost}").click()
        expect(page.get_by_role("status")).to_contain_text("queued again")
        expect(page.get_by_label("State")).to_have_value("failed")  # the filter is kept
        expect(page.get_by_text("No email matches.")).to_be_visible()
        assert _state(lost) == "queued"
        assert delivery.flush_once(default_engine()).sent == 1
        assert [r.rcpt_tos for r in smtp.received][-1] == ["nobody@example.org"]

        # Deferred: queued again after full@'s 452, waiting for its backoff; Retry sends it now.
        page.get_by_label("State").select_option("deferred")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator(f"#outbox-{mixed} .badge").first).to_have_text("deferred")
        expect(page.locator(f"#outbox-{lost}")).to_have_count(0)
        assert delivery.flush_once(default_engine()).sent == 0  # its next try is later
        page.get_by_role("button", name=f"Retry outbox item {mixed}").click()
        expect(page.get_by_role("status")).to_contain_text("queued again")
        assert delivery.flush_once(default_engine()).sent == 1
        assert [r.rcpt_tos for r in smtp.received][-1] == ["full@example.org"]
        page.goto("/outbox?state=deferred")
        expect(page.get_by_text("No email matches.")).to_be_visible()

        minutes = _queue(("ok@example.org",), "Minutes")
        page.goto("/outbox?state=queued")
        expect(page.locator(f"#outbox-{mixed}")).to_have_count(0)  # sent now
        page.get_by_role("button", name=f"Cancel outbox item {minutes}").click()
        expect(page.get_by_role("status")).to_contain_text("will not be sent")
        page.goto("/outbox")
        expect(page.locator(f"#outbox-{minutes} .badge").first).to_have_text("cancelled")
        expect(page.locator(f"#outbox-{mixed} .badge").first).to_have_text("sent")
        expect(page.locator(f"#outbox-{lost} .badge").first).to_have_text("sent")
        sent_before = len(smtp.transactions)
        assert delivery.flush_once(default_engine(), retry_now=True).sent == 0
        assert len(smtp.transactions) == sent_before and _state(minutes) == "cancelled"

        page.get_by_role("button", name="Sign out").click()
        sign_in(page, "bob@example.test", "bob-pass-1")
        page.goto("/outbox")
        expect(page.get_by_text("The outbox is empty.")).to_be_visible()
