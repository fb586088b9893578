"""A personal mailbox's receive and send switches in chromium: its owner turns sending off on
My profile (and the mailbox then refuses to send, while receiving goes on), an administrator
turns it back on from the user's page, and the audit log names each of them."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from postroom.errors import InvalidInput
from postroom.outbound.compose import Draft
from postroom.services import mailboxes, outbox, servers, users
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from tests.e2e.story_steps import go, sign_in, sign_out
from tests.e2e.test_console import add_user

ANN, BOX = "ann@example.test", "ann.work@example.test"


def _can_send() -> bool:
    with unit_of_work() as db:
        ann = users.actor_for(users.get(db, ANN))
        try:
            outbox.enqueue(db, ann, Draft(sender=BOX, to=("c@example.org",), text="Hi."))
        except InvalidInput:
            return False
        db.rollback()
        return True


def test_an_owner_and_an_administrator_switch_a_personal_mailbox(page: Page) -> None:
    add_user("admin@example.test", "admin-pass-1", admin=True)
    add_user(ANN, "ann-pass-1")
    with unit_of_work() as db:
        for name, protocol in (("in", "imap"), ("out", "smtp")):
            servers.add(db, OPERATOR, ServerSpec(name=name, protocol=protocol, host="127.0.0.1"))
        spec = MailboxSpec(address=BOX, incoming="in", outgoing="out", owner=ANN, password="pw")
        mailboxes.add(db, OPERATOR, spec)
    assert _can_send()

    sign_in(page, ANN, "ann-pass-1")
    go(page, "My profile")
    row = page.get_by_role("row").filter(has_text=BOX)
    page.get_by_role("switch", name=f"Send {BOX}").click()
    expect(page.get_by_role("status")).to_contain_text("The switch was saved")
    expect(page.get_by_role("switch", name=f"Send {BOX}")).not_to_be_checked()
    expect(page.get_by_role("switch", name=f"Receive {BOX}")).to_be_checked()
    expect(row).to_contain_text("send off")
    expect(page.get_by_role("button", name=f"Fetch {BOX} now")).to_be_visible()
    assert not _can_send()

    page.get_by_role("switch", name=f"Receive {BOX}").click()
    expect(row).to_contain_text("receive off")
    expect(page.get_by_role("button", name=f"Fetch {BOX} now")).to_have_count(0)
    sign_out(page)

    sign_in(page, "admin@example.test", "admin-pass-1")
    go(page, "Users")
    page.get_by_role("link", name=f"Edit user {ANN}").click()
    theirs = page.get_by_role("row").filter(has_text=BOX)
    expect(theirs).to_contain_text("receive off")
    theirs.get_by_role("switch", name=f"Send {BOX}").click()
    expect(page.get_by_role("status")).to_contain_text("The switch was saved")
    expect(theirs.get_by_role("switch", name=f"Send {BOX}")).to_be_checked()
    assert _can_send()

    go(page, "Audit log")
    edits = page.get_by_role("row").filter(has_text="mailbox.edited")
    expect(edits.filter(has_text="admin@example.test")).to_have_count(1)
    expect(edits.filter(has_text=ANN)).to_have_count(3)  # the mailbox is named as Ann's
