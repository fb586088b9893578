"""The step-by-step connection test against a real Dovecot: each success and each failure."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.conftest import Cli
from tests.integration.mailhelpers import add_mailbox, add_server, cli_json, steps
from tests.servers.dovecot import Dovecot

PASSWORD = "desk-pass-1"
ADDRESS = "desk@example.test"


def _mailbox_report(cli: Cli, address: str = ADDRESS) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, data = cli_json(cli, "mailbox", "test", address)
    assert len(data["reports"]) == 1
    return code, data["reports"][0]


def _state(cli: Cli, address: str = ADDRESS) -> tuple[str, str | None]:
    _, data = cli_json(cli, "mailbox", "show", address)
    return data["state"], data["last_error"]


@pytest.mark.usefixtures("trust_test_ca")
@pytest.mark.parametrize(
    ("protocol", "port_name", "security", "expected"),
    [
        ("imap", "imap_port", "none", ["resolve", "connect", "greeting", "login"]),
        ("imap", "imap_port", "starttls", ["resolve", "connect", "greeting", "starttls", "login"]),
        ("imap", "imaps_port", "tls", ["resolve", "connect", "tls", "greeting", "login"]),
        ("pop3", "pop3_port", "none", ["resolve", "connect", "greeting", "login"]),
        ("pop3", "pop3_port", "starttls", ["resolve", "connect", "greeting", "starttls", "login"]),
        ("pop3", "pop3s_port", "tls", ["resolve", "connect", "tls", "greeting", "login"]),
    ],
)
def test_a_good_mailbox_passes_every_step(
    cli: Cli, dovecot: Dovecot, protocol: str, port_name: str, security: str, expected: list[str]
) -> None:
    add_server(cli, "dove", protocol, getattr(dovecot, port_name), security)
    add_mailbox(cli, ADDRESS, PASSWORD, "--incoming", "dove")
    code, report = _mailbox_report(cli)
    assert code == 0
    assert steps(report) == [(name, True) for name in expected]
    assert all(step["seconds"] >= 0 for step in report["steps"])
    if security != "none":
        tls_step = report["steps"][2 if security == "tls" else 3]
        assert "certificate for" in tls_step["detail"] and "expires in" in tls_step["detail"]
        assert "verified" in tls_step["detail"]
    assert _state(cli) == ("ok", None)


def test_a_wrong_password_fails_at_login_and_marks_the_mailbox_auth_failed(
    cli: Cli, dovecot: Dovecot
) -> None:
    add_server(cli, "dove", "imap", dovecot.imap_port, "none")
    add_mailbox(cli, ADDRESS, "not-the-password", "--incoming", "dove")
    code, report = _mailbox_report(cli)
    assert code == 1
    assert steps(report)[-1] == ("login", False)
    failed = report["steps"][-1]
    assert failed["failure"] == "auth-failed"
    assert "refused the login 'desk@example.test'" in failed["detail"]
    assert "Check the password" in failed["hint"]
    state, error = _state(cli)
    assert state == "auth-failed" and error is not None and error.startswith("login:")


def test_reconnect_with_the_right_password_clears_the_error(cli: Cli, dovecot: Dovecot) -> None:
    add_server(cli, "dove", "pop3", dovecot.pop3_port, "none")
    add_mailbox(cli, ADDRESS, "not-the-password", "--incoming", "dove")
    assert _mailbox_report(cli)[0] == 1
    code, data = cli_json(
        cli, "mailbox", "reconnect", ADDRESS, "--password-stdin", input=PASSWORD + "\n"
    )
    assert code == 0 and data["ok"]
    assert _state(cli) == ("ok", None)


def test_login_format_local_part_signs_in_with_the_part_before_the_at(
    cli: Cli, dovecot: Dovecot
) -> None:
    add_server(cli, "by-address", "imap", dovecot.imap_port, "none")
    add_server(
        cli, "by-local-part", "imap", dovecot.imap_port, "none", "--login-format", "local-part"
    )
    add_mailbox(cli, "ann@example.test", "ann-pass-2", "--incoming", "by-address")
    add_mailbox(cli, "ann@other.test", "ann-pass-2", "--incoming", "by-local-part")
    assert _mailbox_report(cli, "ann@example.test")[0] == 1  # Dovecot knows "ann", not the address
    code, report = _mailbox_report(cli, "ann@other.test")
    assert code == 0
    assert report["steps"][-1]["detail"] == "signed in as ann"


def test_a_custom_username_is_sent_as_typed(cli: Cli, dovecot: Dovecot) -> None:
    add_server(cli, "dove", "imap", dovecot.imap_port, "none")
    add_mailbox(
        cli, "someone@example.test", "ann-pass-2", "--incoming", "dove", "--username", "ann"
    )
    assert _mailbox_report(cli, "someone@example.test")[0] == 0


def test_a_refused_port_says_so_and_marks_the_mailbox_unreachable(cli: Cli) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    add_server(cli, "dove", "imap", port, "none")
    add_mailbox(cli, ADDRESS, PASSWORD, "--incoming", "dove")
    code, report = _mailbox_report(cli)
    assert code == 1
    assert steps(report) == [("resolve", True), ("connect", False)]
    assert "refused the connection" in report["steps"][-1]["detail"]
    assert _state(cli)[0] == "unreachable"


def test_an_untrusted_certificate_fails_tls_and_points_to_no_verify_tls(
    cli: Cli, dovecot: Dovecot
) -> None:
    add_server(cli, "dove", "imap", dovecot.imaps_port, "tls")
    add_mailbox(cli, ADDRESS, PASSWORD, "--incoming", "dove")
    code, report = _mailbox_report(cli)
    assert code == 1
    assert steps(report) == [("resolve", True), ("connect", True), ("tls", False)]
    failed = report["steps"][-1]
    assert "certificate is not trusted" in failed["detail"]
    assert "--no-verify-tls" in failed["hint"]


def test_no_verify_tls_accepts_a_lab_certificate_and_says_it_was_not_verified(
    cli: Cli, dovecot: Dovecot
) -> None:
    add_server(cli, "dove", "pop3", dovecot.pop3s_port, "tls", "--no-verify-tls")
    add_mailbox(cli, ADDRESS, PASSWORD, "--incoming", "dove")
    code, report = _mailbox_report(cli)
    assert code == 0
    assert "not verified (--no-verify-tls)" in report["steps"][2]["detail"]


@pytest.mark.parametrize(("protocol", "port_name"), [("imap", "imap_port"), ("pop3", "pop3_port")])
def test_starttls_not_offered_fails_with_what_to_do(
    cli: Cli, dovecot_without_tls: Dovecot, protocol: str, port_name: str
) -> None:
    add_server(cli, "dove", protocol, getattr(dovecot_without_tls, port_name), "starttls")
    add_mailbox(cli, ADDRESS, PASSWORD, "--incoming", "dove")
    code, report = _mailbox_report(cli)
    assert code == 1
    assert steps(report)[-1] == ("starttls", False)
    assert "does not offer STARTTLS" in report["steps"][-1]["detail"]
    assert "--security tls" in report["steps"][-1]["hint"]


def test_plain_text_against_a_tls_port_times_out_at_the_greeting_with_a_hint(
    cli: Cli, dovecot: Dovecot
) -> None:
    add_server(cli, "dove", "imap", dovecot.imaps_port, "none", "--timeout", "0.5")
    add_mailbox(cli, ADDRESS, PASSWORD, "--incoming", "dove")
    code, report = _mailbox_report(cli)
    assert code == 1
    failed = report["steps"][-1]
    assert (failed["name"], failed["failure"]) == ("greeting", "timeout")
    assert "No answer within 0.5 s" in failed["detail"]
    assert "try --security tls" in failed["hint"]


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_tls_against_a_silent_port_times_out_in_the_handshake(
    cli: Cli, silent_listener: int
) -> None:
    add_server(cli, "mute", "pop3", silent_listener, "tls", "--timeout", "0.3")
    code, report = cli_json(cli, "server", "test", "mute")
    assert code == 1
    assert steps(report)[-1] == ("tls", False)
    assert report["steps"][-1]["failure"] == "timeout"


@pytest.mark.usefixtures("trust_test_ca")
def test_a_server_test_stops_before_sign_in_and_resolves_localhost(
    cli: Cli, dovecot: Dovecot
) -> None:
    result = cli(
        "server",
        "add",
        "dove",
        "--protocol",
        "imap",
        "--host",
        "localhost",
        "--port",
        str(dovecot.imap_port),
        "--security",
        "starttls",
    )
    assert result.code == 0, result.stderr
    code, report = cli_json(cli, "server", "test", "dove")
    assert code == 0
    assert [name for name, _ in steps(report)] == ["resolve", "connect", "greeting", "starttls"]
    assert "IMAP4rev1" in report["steps"][2]["detail"]


def test_the_human_report_lists_each_step_with_its_duration(cli: Cli, dovecot: Dovecot) -> None:
    add_server(cli, "dove", "imap", dovecot.imap_port, "none")
    add_mailbox(cli, ADDRESS, "wrong", "--incoming", "dove")
    result = cli("mailbox", "test", ADDRESS)
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"incoming: imap://127.0.0.1:{dovecot.imap_port}"
    assert lines[1].startswith("  ok   resolve") and " ms " in lines[1]
    assert any(line.startswith("  FAIL login") for line in lines)
    assert any(line.strip().startswith("-> Check the password") for line in lines)


@pytest.fixture
def saturated_listener() -> Iterator[int]:
    """A port whose accept queue is full: the kernel drops new SYNs, as a firewall would."""
    with socket.socket() as server, socket.socket() as filler:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        filler.connect(server.getsockname())
        yield server.getsockname()[1]


def test_a_connection_that_never_completes_times_out_within_the_connect_timeout(
    cli: Cli, saturated_listener: int
) -> None:
    add_server(cli, "dropped", "imap", saturated_listener, "none", "--connect-timeout", "0.3")
    code, report = cli_json(cli, "server", "test", "dropped")
    assert code == 1
    failed = report["steps"][-1]
    assert (failed["name"], failed["failure"]) == ("connect", "timeout")
    assert "within 0.3 s" in failed["detail"]
    assert "firewall" in failed["hint"]
