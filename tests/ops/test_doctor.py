"""postroom doctor against real servers: a Dovecot whose certificate expires in ten days, one
that offers no STARTTLS, a mailbox nobody fetched, Exchange Online SMTP with a password; and
the notices it sends, at most once a day a finding."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from postroom.services import events
from postroom.services.doctor.checks.exchange_basic_auth import SMTP_BASIC_OFF
from postroom.services.doctor.notify import notify
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import DoctorNotice, Mailbox, OutboxItem, WebhookDelivery
from tests.conftest import USERS, Cli
from tests.integration.mailhelpers import add_mailbox, add_server, cli_json
from tests.integration.oauthhelpers import ok
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot

SOON = 10  # days the short-lived certificate has left


@pytest.fixture(scope="module")
def expiring_dovecot() -> Iterator[Dovecot]:
    ca = TestCA(leaf_not_after=datetime.now(UTC) + timedelta(days=SOON, hours=1))
    with Dovecot(users=USERS, ca=ca) as server:
        yield server


def doctor(cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    code, report = cli_json(cli, "doctor", *args)
    assert isinstance(report, dict)
    return code, report


def findings(report: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["check"] == check]


def fresh_user(dovecot: Dovecot) -> str:
    user = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(user, "desk-pass-1")
    return user


def test_a_certificate_expiring_within_the_window_is_due_and_later_is_not(
    cli: Cli, expiring_dovecot: Dovecot
) -> None:
    add_server(cli, "imaps", "imap", expiring_dovecot.imaps_port, "tls", "--no-verify-tls")
    add_mailbox(cli, fresh_user(expiring_dovecot), "desk-pass-1", "--incoming", "imaps")

    code, report = doctor(cli)
    [cert] = findings(report, "certificate")
    assert code == 1
    assert cert["subject"] == "server imaps" and cert["due"] is True
    assert cert["days_left"] == SOON
    assert "Renew" in cert["fix"]

    code, report = doctor(cli, "--within", str(SOON - 3))
    assert code == 0, report
    assert findings(report, "certificate")[0]["due"] is False


def test_a_server_that_stopped_offering_starttls_is_found(
    cli: Cli, dovecot_without_tls: Dovecot
) -> None:
    add_server(cli, "plain", "imap", dovecot_without_tls.imap_port, "starttls")
    add_mailbox(cli, fresh_user(dovecot_without_tls), "desk-pass-1", "--incoming", "plain")
    code, report = doctor(cli)
    [finding] = findings(report, "starttls")
    assert code == 1
    assert "no longer offers STARTTLS" in finding["problem"]
    assert "--security tls" in finding["fix"]


def test_a_mailbox_not_fetched_for_three_poll_intervals_is_stale(
    cli: Cli, dovecot: Dovecot
) -> None:
    add_server(cli, "in", "imap", dovecot.imap_port, "none")
    user = fresh_user(dovecot)
    add_mailbox(cli, user, "desk-pass-1", "--incoming", "in", "--poll-interval", "60")
    code, report = doctor(cli, "--no-probe")
    assert code == 0 and findings(report, "stale-mailbox") == []  # just added
    assert cli("fetch", "--once").code == 0
    with unit_of_work() as db:  # the last success, four minutes ago: more than 3 x 60 s
        db.execute(update(Mailbox).values(last_success_at=datetime.now(UTC) - timedelta(minutes=4)))
    code, report = doctor(cli, "--no-probe")
    [stale] = findings(report, "stale-mailbox")
    assert code == 1
    assert stale["subject"] == f"mailbox {user}"
    assert "mailbox test" in stale["fix"]


def test_exchange_online_smtp_with_a_password_is_due_by_the_end_of_december_2026(
    cli: Cli,
) -> None:
    result = cli(
        "server",
        "add",
        "exo",
        "--protocol",
        "smtp",
        "--host",
        "smtp.office365.com",
        "--port",
        "587",
        "--security",
        "starttls",
    )
    assert result.code == 0, result.stderr
    add_mailbox(cli, "sales@contoso.example", "secret-1", "--outgoing", "exo")
    assert cli("connection", "add", "invoices", "--mailbox", "sales@contoso.example").code == 0

    code, report = doctor(cli, "--no-probe", "--within", "366")
    [finding] = findings(report, "exchange-basic-auth")
    assert code == 1
    assert finding["due_at"] == SMTP_BASIC_OFF.isoformat()
    assert "connection invoices" in finding["problem"]
    assert "OAuth2" in finding["fix"]
    days = (SMTP_BASIC_OFF - datetime.now(UTC)).days
    code, report = doctor(cli, "--no-probe", "--within", str(max(days - 1, 0)))
    assert findings(report, "exchange-basic-auth")[0]["due"] is (days <= 0)


def test_notices_go_to_webhooks_and_the_admins_at_most_once_a_day(
    cli: Cli, dovecot_without_tls: Dovecot, smtp_server: Any
) -> None:
    assert (
        cli(
            "user", "add", "boss@example.test", "--admin", "--password-stdin", input="password-1\n"
        ).code
        == 0
    )
    add_server(cli, "plain", "imap", dovecot_without_tls.imap_port, "starttls")
    add_mailbox(cli, fresh_user(dovecot_without_tls), "desk-pass-1", "--incoming", "plain")
    add_server(cli, "out", "smtp", smtp_server.port, "none")
    add_mailbox(cli, "notices@example.test", "desk-pass-1", "--outgoing", "out")
    assert cli("connection", "add", "notices", "--mailbox", "notices@example.test").code == 0
    added = cli(
        "webhook", "add", "ops", "--url", "http://127.0.0.1:9/hook", "--event", "doctor.warning"
    )
    assert added.code == 0, added.stderr

    told = notify(default_engine())
    assert told == ["starttls:server plain"]
    assert notify(default_engine()) == []  # the same day: told already
    with unit_of_work() as db:  # a day later, and still standing: told again
        db.execute(update(DoctorNotice).values(notified_at=datetime.now(UTC) - timedelta(hours=25)))
    assert notify(default_engine()) == ["starttls:server plain"]
    with unit_of_work() as db:
        kinds = list(db.scalars(select(WebhookDelivery.kind)))
        mails = [(m.subject, m.raw) for m in db.scalars(select(OutboxItem))]
    assert kinds == ["doctor.warning", "doctor.warning"]
    (subject, raw), _ = mails
    assert subject == "postroom: server plain stops working now"
    assert b"boss@example.test" in raw
    assert b"Auto-Submitted: auto-generated" in raw


def test_sign_in_findings_from_the_database_alone(cli: Cli) -> None:
    """Google with a password, an OAuth2 mailbox nobody signed in for, one whose app lacks a
    scope, and one whose token nothing renewed for 80 days (Microsoft's limit is 90)."""
    ok(cli, "server", "add", "gmail-imap", "--protocol", "imap", "--host", "imap.gmail.com")
    ok(cli, "server", "add", "exo-imap", "--protocol", "imap", "--host", "outlook.office365.com")
    ok(
        cli,
        "server",
        "add",
        "exo-smtp",
        "--protocol",
        "smtp",
        "--host",
        "smtp.office365.com",
        "--port",
        "587",
        "--security",
        "starttls",
    )
    ok(cli, "oauth-app", "add", "m365", "--provider", "microsoft", "--client-id", "id-1")
    ok(
        cli,
        "oauth-app",
        "add",
        "imap-only",
        "--provider",
        "microsoft",
        "--client-id",
        "id-2",
        "--scopes",
        "offline_access https://outlook.office.com/IMAP.AccessAsUser.All",
    )
    add_mailbox(cli, "ann@gmail.example", "app-password", "--incoming", "gmail-imap")
    ok(
        cli,
        "mailbox",
        "add",
        "new@contoso.example",
        "--incoming",
        "exo-imap",
        "--oauth-app",
        "m365",
    )
    ok(
        cli,
        "mailbox",
        "add",
        "sends@contoso.example",
        "--incoming",
        "exo-imap",
        "--outgoing",
        "exo-smtp",
        "--oauth-app",
        "imap-only",
    )
    ok(
        cli,
        "mailbox",
        "add",
        "idle@contoso.example",
        "--incoming",
        "exo-imap",
        "--oauth-app",
        "m365",
    )
    renewed = datetime.now(UTC) - timedelta(days=80)
    with unit_of_work() as db:  # signed in once (the doctor reads only that a token is kept)
        db.execute(
            update(Mailbox)
            .where(Mailbox.address.in_(["sends@contoso.example", "idle@contoso.example"]))
            .values(oauth_tokens=b"sealed", oauth_expires_at=renewed + timedelta(hours=1))
        )

    code, report = doctor(cli, "--no-probe")
    by_subject = {(f["check"], f["subject"]): f for f in report["findings"]}
    assert code == 1
    assert ("google-password", "mailbox ann@gmail.example") in by_subject
    assert (
        "Nobody has signed in"
        in by_subject[("oauth-consent", "mailbox new@contoso.example")]["problem"]
    )
    assert "SMTP.Send" in by_subject[("oauth-consent", "mailbox sends@contoso.example")]["problem"]
    idle = by_subject[("oauth-inactivity", "mailbox idle@contoso.example")]
    assert (idle["due"], idle["days_left"]) == (True, 9)
    assert not any(k[0] == "exchange-basic-auth" for k in by_subject)  # all of these use OAuth2


def test_uncertain_emails_and_a_failing_webhook_are_findings(cli: Cli, smtp_server: Any) -> None:
    add_server(cli, "out", "smtp", smtp_server.port, "none")
    add_mailbox(cli, "desk@example.test", "desk-pass-1", "--outgoing", "out")
    ok(cli, "send", "--from", "desk@example.test", "--to", "ann@example.org", "--subject", "Hi")
    ok(cli, "webhook", "add", "crm", "--url", "http://127.0.0.1:9/hook", "--event", "*")
    with unit_of_work() as db:
        events.emit(db, "request.opened", {"id": 1})
    with unit_of_work() as db:
        db.execute(update(OutboxItem).values(state="uncertain"))
        db.execute(update(WebhookDelivery).values(state="failed"))
    code, report = doctor(cli, "--no-probe")
    assert code == 1
    [uncertain] = findings(report, "outbox-uncertain")
    assert uncertain["subject"] == "mailbox desk@example.test"
    assert "outbox retry" in uncertain["fix"]
    [hook] = findings(report, "webhook-failing")
    assert hook["subject"] == "webhook crm" and "redeliver" in hook["fix"]
