"""Test connection, send a test email, reconnect: the step-by-step report of DESIGN.md, and the
mailbox state it leaves behind so the console shows what is wrong."""

from __future__ import annotations

from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from time import perf_counter

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from postroom.connectors import smtp
from postroom.connectors.registry import open_api_sender
from postroom.connectors.test_connection import Envelope, Report, Step, run_connection_test
from postroom.domain import validate
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import LoginFormat, MailboxState
from postroom.errors import InvalidInput, PostroomError
from postroom.services import audit, connections, events, health, mailboxes, servers, tokens
from postroom.services.actors import Actor
from postroom.services.cloud_sending import sends_through_api
from postroom.services.credentials import credentials_of, for_connection
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec, endpoint_of
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import Mailbox, Server, utcnow


def check_server(actor: Actor, name: str, *, engine: Engine | None = None) -> Report:
    """Everything up to sign-in: a server has no credentials of its own. The server is read in
    a short transaction; the network is reached with no database connection held."""
    actor.require_admin("test servers")
    with unit_of_work(engine) as db:
        endpoint = endpoint_of(servers.get(db, name))
    return run_connection_test(endpoint)


@dataclass(frozen=True)
class _Planned:
    """One test to run, read from the database before any of them touches the network."""

    role: str
    endpoint: Endpoint
    credentials: Credentials | None
    envelope: Envelope | None = None
    refused: PostroomError | None = None  # an OAuth2 mailbox whose sign-in is gone


def _planned(role: str, mailbox: Mailbox, server: Server, envelope: Envelope | None) -> _Planned:
    try:
        credentials = credentials_of(mailbox, server)
    except PostroomError as exc:
        return _Planned(role, endpoint_of(server), None, envelope, exc)
    return _Planned(role, endpoint_of(server), credentials, envelope)


def _plan(mailbox: Mailbox) -> list[_Planned]:
    plan = []
    if mailbox.incoming_server is not None and mailbox.receive_enabled:
        plan.append(_planned("incoming", mailbox, mailbox.incoming_server, None))
    if mailbox.outgoing_server is not None and mailbox.send_enabled:
        envelope = Envelope(sender=mailbox.address, recipient=mailbox.address)
        plan.append(_planned("outgoing", mailbox, mailbox.outgoing_server, envelope))
    return plan


def _run(planned: _Planned) -> Report:
    if planned.refused is not None:
        target = f"{planned.endpoint.protocol.value}://{planned.endpoint.host}"
        report = Report(target=f"{target}:{planned.endpoint.port}")
        report.steps.append(Step("sign-in", False, str(planned.refused), 0.0, planned.refused.code))
        return report
    return run_connection_test(planned.endpoint, planned.credentials, planned.envelope)


def _run_renewing(engine: Engine, mailbox_id: int, planned: _Planned) -> Report:
    """An access token refused is renewed once, as fetching and sending do, so a test never
    calls a mailbox broken only because its hour-long token ran out."""
    report = _run(planned)
    given, failed = planned.credentials, report.failed_step
    if given is None or not given.bearer or failed is None or failed.failure != "auth-failed":
        return report
    try:
        fresh = tokens.credentials(engine, mailbox_id, rejected=given.password)
    except PostroomError:  # the sign-in itself is gone: the first report says so
        return report
    return _run(replace(planned, credentials=fresh))


def _current_token(engine: Engine, mailbox_id: int, given: Credentials) -> Credentials:
    try:
        return tokens.credentials(engine, mailbox_id)
    except PostroomError:
        return given


def _record_state(db: Session, mailbox: Mailbox, reports: list[tuple[str, Report]]) -> None:
    """Receiving and sending apart: a refused send test leaves the receive state alone."""
    mailbox.last_checked_at = utcnow()
    for side, record in (("incoming", health.record_receive), ("sending", health.record_send)):
        tested = [r for name, r in reports if (name == "incoming") == (side == "incoming")]
        if not tested:
            continue
        failed: Step | None = next((r.failed_step for r in tested if r.failed_step), None)
        if failed is None:
            record(db, mailbox, None, None)
        else:
            record(db, mailbox, failed.failure, f"{failed.name}: {failed.detail}")


def check_mailbox(
    actor: Actor,
    address: str,
    *,
    owner: str | None = None,
    send_test_email: bool = False,
    engine: Engine | None = None,
) -> list[tuple[str, Report]]:
    return _check(engine, actor, address, owner, send_test_email)


def _check(
    engine: Engine | None,
    actor: Actor,
    address: str,
    owner: str | None,
    send_test_email: bool = False,
    before: str | None = None,
) -> list[tuple[str, Report]]:
    """Read, then the network with no database connection held, then write what was found."""
    with unit_of_work(engine) as db:
        mailbox = mailboxes.get_for(db, actor, address, owner)
        if send_test_email and (mailbox.outgoing_server is None or not mailbox.send_enabled):
            raise InvalidInput(
                f"{mailbox.address} has no outgoing server, so it cannot send a test email."
            )
        plan = _plan(mailbox)
        test_email = _test_email_plan(mailbox) if send_test_email else None
        mailbox_id, before = mailbox.id, before or mailbox.state
    bound = engine or default_engine()
    reports = [(p.role, _run_renewing(bound, mailbox_id, p)) for p in plan]
    if test_email is not None:
        address, endpoint, credentials = test_email
        if credentials is not None and credentials.bearer:  # the one the tests just renewed
            credentials = _current_token(bound, mailbox_id, credentials)
        reports.append(("test email", _send_test_email(address, endpoint, credentials)))
    with unit_of_work(engine) as db:
        tested = db.get(Mailbox, mailbox_id)
        if tested is None:  # removed while it was being tested: nothing to record
            return reports
        _record_state(db, tested, reports)
        events.mailbox_state_changed(db, tested, before)
        audit.record(db, actor, "mailbox.tested", tested.address, ok=all(r.ok for _, r in reports))
    return reports


def _test_email_plan(mailbox: Mailbox) -> tuple[str, Endpoint, Credentials | None]:
    server = mailbox.outgoing_server
    assert server is not None, "checked by _check"
    return mailbox.address, endpoint_of(server), credentials_of(mailbox, server)


def _send_test_email(address: str, endpoint: Endpoint, credentials: Credentials | None) -> Report:
    message = EmailMessage()
    message["From"] = address
    message["To"] = address
    message["Subject"] = "postroom test email"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=address.rsplit("@", 1)[1])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"This email was sent by postroom to check that {address} can send.\n"
        "If you can read it, sending works; no reply is needed.\n"
    )
    report = Report(target=f"test email to {address}")
    started = perf_counter()
    try:
        _deliver(endpoint, credentials, message)
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
                f"sent {message['Message-ID']} to {address}",
                round(perf_counter() - started, 4),
            )
        )
    return report


def _deliver(endpoint: Endpoint, credentials: Credentials | None, message: EmailMessage) -> None:
    """The way the outbox would send from this mailbox: a mail API (Graph's sendMail, Gmail's
    messages.send) for a cloud server, SMTP otherwise."""
    if not sends_through_api(endpoint):
        smtp.send(endpoint, credentials, message)
        return
    if credentials is None:
        raise InvalidInput(
            f"The mailbox is not signed in to {endpoint.protocol.value}: reconnect it."
        )
    sender = open_api_sender(endpoint, credentials)
    try:
        sender.send(message.as_bytes(), [str(message["To"])])
    finally:
        sender.close()


def reconnect(
    actor: Actor,
    address: str,
    *,
    owner: str | None = None,
    password: str | None = None,
    engine: Engine | None = None,
) -> list[tuple[str, Report]]:
    """Clear the error state (taking a new password if given), then test again: the state
    after is what the test found."""
    with unit_of_work(engine) as db:
        mailbox = mailboxes.get_for(db, actor, address, owner)
        if password is not None:
            mailboxes.change_password(db, actor, mailbox, password)
        before = mailbox.state
        mailbox.state = MailboxState.NEW.value
        mailbox.last_error = None
        mailbox.send_state, mailbox.send_error = MailboxState.NEW.value, None
        mailbox.credentials_changed_at = utcnow()
        audit.record(db, actor, "mailbox.reconnected", mailbox.address)
    return _check(engine, actor, address, owner, before=before)


def check_unsaved_mailbox(
    actor: Actor, spec: MailboxSpec, *, engine: Engine | None = None
) -> list[tuple[str, Report]]:
    """The add form's Test button: the account as typed, before it is saved (the seeds test
    the account, then save). Nothing is written; the password goes only to the servers chosen."""
    actor.require_admin("test system mailboxes")
    address = validate.address(spec.address)
    chosen = [("incoming", spec.incoming), ("outgoing", spec.outgoing)]
    if not any(name for _, name in chosen):
        raise InvalidInput("Choose an incoming or outgoing server to test.", field="incoming")
    plan = []
    with unit_of_work(engine) as db:
        for role, name in chosen:
            if not name:
                continue
            server = servers.get(db, name)
            login = LoginFormat.CUSTOM if spec.username else LoginFormat(server.login_format)
            credentials = (
                Credentials(login=login.login_for(address, spec.username), password=spec.password)
                if spec.password
                else None
            )
            envelope = Envelope(sender=address, recipient=address) if role == "outgoing" else None
            plan.append(_Planned(role, endpoint_of(server), credentials, envelope))
    return [(p.role, _run(p)) for p in plan]


def check_unsaved_server(actor: Actor, spec: ServerSpec) -> Report:
    """Test a server as typed, before it is saved: the add form's Test connection button."""
    actor.require_admin("test servers")
    return run_connection_test(endpoint_of(servers.checked(spec)))


def check_connection(actor: Actor, name: str, *, engine: Engine | None = None) -> Report:
    """The step-by-step test (connect, TLS, sign-in, envelope) exactly as this connection
    sends: its security, its timeouts, its authentication. Read in one short transaction,
    the network reached with no database connection held, the outcome audited in another."""
    actor.require_admin("test connections")
    with unit_of_work(engine) as db:
        connection = connections.get(db, name)
        mailbox = connection.mailbox
        if mailbox.outgoing_server is None:
            raise InvalidInput(f"{mailbox.address} has no outgoing server any more: edit it first.")
        target = connections.endpoint(connection)
        envelope = Envelope(sender=mailbox.address, recipient=mailbox.address)
        try:
            credentials = for_connection(connection)
        except PostroomError as exc:  # an OAuth2 mailbox whose sign-in is gone
            report = Report(target=f"{target.protocol.value}://{target.host}:{target.port}")
            report.steps.append(Step("sign-in", False, str(exc), 0.0, exc.code))
            return report
    report = run_connection_test(target, credentials, envelope)
    with unit_of_work(engine) as db:
        audit.record(db, actor, "connection.tested", name, ok=report.ok)
    return report
