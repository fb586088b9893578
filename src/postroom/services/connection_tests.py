"""Test connection, send a test email, reconnect: the step-by-step report of DESIGN.md, and the
mailbox state it leaves behind so the console shows what is wrong."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from time import perf_counter

from sqlalchemy.orm import Session

from postroom.connectors import smtp
from postroom.connectors.test_connection import Envelope, Report, Step, run_connection_test
from postroom.domain.settings import MailboxState
from postroom.errors import InvalidInput, PostroomError
from postroom.services import audit, events, mailboxes, servers
from postroom.services.actors import Actor
from postroom.services.credentials import credentials_of
from postroom.services.servers import ServerSpec, endpoint_of
from postroom.storage.models import Mailbox, Server, utcnow

FAILURE_STATES = {
    "auth-failed": MailboxState.AUTH_FAILED,
    "needs-reconnect": MailboxState.NEEDS_RECONNECT,
}


def check_server(db: Session, actor: Actor, name: str) -> Report:
    """Everything up to sign-in: a server has no credentials of its own."""
    actor.require_admin("test servers")
    return run_connection_test(endpoint_of(servers.get(db, name)))


def _test(mailbox: Mailbox, server: Server, envelope: Envelope | None = None) -> Report:
    try:
        credentials = credentials_of(mailbox, server)
    except PostroomError as exc:  # an OAuth2 mailbox whose sign-in is gone
        report = Report(target=f"{server.protocol}://{server.host}:{server.port}")
        report.steps.append(Step("sign-in", False, str(exc), 0.0, exc.code))
        return report
    return run_connection_test(endpoint_of(server), credentials, envelope)


def _reports(mailbox: Mailbox) -> list[tuple[str, Report]]:
    reports = []
    if mailbox.incoming_server is not None and mailbox.receive_enabled:
        reports.append(("incoming", _test(mailbox, mailbox.incoming_server)))
    if mailbox.outgoing_server is not None and mailbox.send_enabled:
        envelope = Envelope(sender=mailbox.address, recipient=mailbox.address)
        reports.append(("outgoing", _test(mailbox, mailbox.outgoing_server, envelope)))
    return reports


def _record_state(mailbox: Mailbox, reports: list[tuple[str, Report]]) -> None:
    mailbox.last_checked_at = utcnow()
    failed: Step | None = next((r.failed_step for _, r in reports if r.failed_step), None)
    if failed is None:
        mailbox.state = MailboxState.OK.value
        mailbox.last_error = None
        mailbox.last_success_at = mailbox.last_checked_at
        return
    mailbox.state = FAILURE_STATES.get(failed.failure or "", MailboxState.UNREACHABLE).value
    mailbox.last_error = f"{failed.name}: {failed.detail}"


def check_mailbox(
    db: Session,
    actor: Actor,
    address: str,
    *,
    owner: str | None = None,
    send_test_email: bool = False,
) -> list[tuple[str, Report]]:
    return _check(db, actor, mailboxes.get_for(db, actor, address, owner), send_test_email)


def _check(
    db: Session,
    actor: Actor,
    mailbox: Mailbox,
    send_test_email: bool = False,
    before: str | None = None,
) -> list[tuple[str, Report]]:
    """Network first, writes after: no database lock is held while a server is slow."""
    before = before or mailbox.state
    if send_test_email and (mailbox.outgoing_server is None or not mailbox.send_enabled):
        raise InvalidInput(
            f"{mailbox.address} has no outgoing server, so it cannot send a test email."
        )
    reports = _reports(mailbox)
    if send_test_email:
        reports.append(("test email", _send_test_email(mailbox)))
    _record_state(mailbox, reports)
    events.mailbox_state_changed(db, mailbox, before)
    audit.record(db, actor, "mailbox.tested", mailbox.address, ok=all(r.ok for _, r in reports))
    return reports


def _send_test_email(mailbox: Mailbox) -> Report:
    server = mailbox.outgoing_server
    assert server is not None, "checked by _check"
    message = EmailMessage()
    message["From"] = mailbox.address
    message["To"] = mailbox.address
    message["Subject"] = "postroom test email"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mailbox.address.rsplit("@", 1)[1])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"This email was sent by postroom to check that {mailbox.address} can send.\n"
        "If you can read it, sending works; no reply is needed.\n"
    )
    report = Report(target=f"test email to {mailbox.address}")
    started = perf_counter()
    try:
        smtp.send(endpoint_of(server), credentials_of(mailbox, server), message)
    except PostroomError as exc:
        report.steps.append(
            Step(
                "send",
                False,
                str(exc),
                round(perf_counter() - started, 4),
                getattr(exc, "code", "protocol"),
            )
        )
    else:
        report.steps.append(
            Step(
                "send",
                True,
                f"sent {message['Message-ID']} to {mailbox.address}",
                round(perf_counter() - started, 4),
            )
        )
    return report


def reconnect(
    db: Session,
    actor: Actor,
    address: str,
    *,
    owner: str | None = None,
    password: str | None = None,
) -> list[tuple[str, Report]]:
    """Clear the error state (taking a new password if given), then test again: the state
    after is what the test found."""
    mailbox = mailboxes.get_for(db, actor, address, owner)
    if password is not None:
        mailboxes.change_password(db, actor, mailbox, password)
    before = mailbox.state
    mailbox.state = MailboxState.NEW.value
    mailbox.last_error = None
    audit.record(db, actor, "mailbox.reconnected", mailbox.address)
    return _check(db, actor, mailbox, before=before)


def check_unsaved_server(actor: Actor, spec: ServerSpec) -> Report:
    """Test a server as typed, before it is saved: the add form's Test connection button."""
    actor.require_admin("test servers")
    return run_connection_test(endpoint_of(servers.checked(spec)))
