"""A fetch that began with the old password and failed after the mailbox was given a new one
must not mark the mailbox failing nor back it off: the admin just fixed it, and the next fetch
(with the new password) is due at once. Seen as a flaky seed story: a worker's first fetch of a
mailbox not yet signed in ended after the sign-in and pushed the mailbox's next poll minutes
away."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine

from postroom.connectors.base import Connector
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import MailboxState
from postroom.services import fetching, mailbox_edits, mailboxes, servers, workflows
from postroom.services.actors import OPERATOR
from postroom.services.mailbox_edits import MailboxChange
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot


class NewPasswordMeanwhile(fetching.Direct):
    """The admin saves the right password while this fetch is signing in with the wrong one."""

    def __init__(self, engine: Engine, address: str, password: str) -> None:
        self.engine, self.address, self.password = engine, address, password

    def open(self, endpoint: Endpoint, credentials: Credentials) -> Connector:
        with unit_of_work(self.engine) as db:
            mailbox = mailboxes.get_for(db, OPERATOR, self.address)
            mailbox_edits.edit(db, OPERATOR, mailbox, MailboxChange(password=self.password))
        return super().open(endpoint, credentials)  # still the old password: Dovecot refuses


def _desk(engine: Engine, dovecot: Dovecot) -> tuple[str, int]:
    address = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(address, "right-pass-1")
    with unit_of_work(engine) as db:
        spec = ServerSpec(
            name="in", protocol="imap", host="127.0.0.1", port=dovecot.imap_port, security="none"
        )
        servers.add(db, OPERATOR, spec)
        workflows.add(db, OPERATOR, "Support", ["New", "Done"])
        mailbox = mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                address=address,
                incoming="in",
                system=True,
                password="wrong-pass",
                workflow="Support",
            ),
        )
        return address, mailbox.id


def test_a_fetch_that_failed_with_the_old_password_leaves_the_fixed_mailbox_due_now(
    database_url: str, engine: Engine, dovecot: Dovecot
) -> None:
    address, mailbox_id = _desk(engine, dovecot)
    dovecot.deliver(address, [email_from("ann@example.org", "Printer on fire")])

    failed = fetching.fetch_mailbox(
        engine, mailbox_id, receivers=NewPasswordMeanwhile(engine, address, "right-pass-1")
    )

    assert not failed.ok and failed.failure == "auth-failed"
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        assert mailbox is not None
        assert mailbox.state == MailboxState.NEW.value  # as the new password left it
        assert (mailbox.failures, mailbox.next_poll_at) == (0, None)  # due now, no backoff
    again = fetching.fetch_mailbox(engine, mailbox_id)
    assert again.ok and again.fetched == 1


def test_a_fetch_that_fails_with_unchanged_credentials_still_backs_off(
    database_url: str, engine: Engine, dovecot: Dovecot
) -> None:
    _, mailbox_id = _desk(engine, dovecot)

    failed = fetching.fetch_mailbox(engine, mailbox_id)

    assert not failed.ok
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        assert mailbox is not None
        assert mailbox.state == MailboxState.AUTH_FAILED.value
        assert mailbox.failures == 1 and mailbox.next_poll_at is not None
