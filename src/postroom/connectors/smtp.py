"""Sending over SMTP with the server's security, timeouts and the mailbox's credentials."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage

from postroom.connectors.sasl import xoauth2
from postroom.connectors.server_words import text_of, words
from postroom.connectors.tls import client_context
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import Security
from postroom.errors import (
    AuthFailed,
    MailServerError,
    Misconfigured,
    TokenRejected,
    Transient,
    Unreachable,
)


def open_smtp(endpoint: Endpoint, credentials: Credentials | None) -> smtplib.SMTP:
    """One construction method for the SMTP client, so tests and the outbox share it."""
    timeout = endpoint.connect_timeout or socket.getdefaulttimeout() or 60.0
    try:
        client: smtplib.SMTP
        if endpoint.security is Security.TLS:
            client = smtplib.SMTP_SSL(
                endpoint.host,
                endpoint.port,
                timeout=timeout,
                context=client_context(endpoint.verify_tls),
            )
        else:
            client = smtplib.SMTP(endpoint.host, endpoint.port, timeout=timeout)
            if endpoint.security is Security.STARTTLS:  # loading the CAs costs ~25 ms: only here
                client.starttls(context=client_context(endpoint.verify_tls))
        if client.sock is not None:
            client.sock.settimeout(endpoint.timeout)
            # The outbox writes the final dot on its own, after recording that moment: with
            # Nagle's algorithm that small write waits for the delayed ACK, ~40 ms an email.
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if credentials is not None and credentials.bearer:
            smtp_xoauth2(client, credentials)
        elif credentials is not None:
            client.login(credentials.login, credentials.password)
    except smtplib.SMTPAuthenticationError as exc:
        if credentials is not None and credentials.bearer:
            raise TokenRejected(
                f"The SMTP server refused the access token of {credentials.login!r}."
            ) from exc
        raise AuthFailed(
            f"The SMTP server refused the login {credentials.login if credentials else ''!r}: "
            f"{exc.smtp_code}"
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise Unreachable(
            f"The SMTP server's certificate is not trusted: {exc.verify_message}."
        ) from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise Unreachable(f"Could not reach {endpoint.host}:{endpoint.port}: {exc}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise Misconfigured(_unsupported(endpoint, str(exc))) from exc
    except smtplib.SMTPResponseException as exc:
        kind = Transient if 400 <= exc.smtp_code < 500 else MailServerError
        raise kind(
            f"The SMTP server {endpoint.host}:{endpoint.port} answered "
            f"{exc.smtp_code} {text_of(exc.smtp_error)}"
        ) from exc
    except smtplib.SMTPException as exc:  # before OSError: smtplib derives its errors from it
        raise MailServerError(
            f"The SMTP session with {endpoint.host} failed: {words(exc)}"
        ) from exc
    except OSError as exc:
        raise Unreachable(f"Could not reach {endpoint.host}:{endpoint.port}: {exc}") from exc
    return client


def _unsupported(endpoint: Endpoint, said: str) -> str:
    """The server answered, but lacks what these settings need: say what to change."""
    if "AUTH" in said.upper():
        hint = (
            "it offers no sign-in here. Use its submission port (587 with --security starttls, "
            "or 465 with tls), or, for a relay that accepts mail by network address, a "
            "connection with --auth none"
        )
    else:
        hint = "it does not offer STARTTLS here: use --security tls or another port"
    return (
        f"The SMTP server {endpoint.host}:{endpoint.port} was reached but cannot be used with "
        f"these settings ({said.rstrip('.')}): {hint}. Change the server or mailbox settings; "
        "postroom does not retry this by itself."
    )


def smtp_xoauth2(client: smtplib.SMTP, credentials: Credentials) -> None:
    """AUTH XOAUTH2 with an initial response; after a refusal the server sends a JSON error
    as a challenge, which is answered with an empty line so it can say 535."""
    client.ehlo_or_helo_if_needed()
    client.auth(
        "XOAUTH2",
        lambda challenge=None: xoauth2(credentials) if challenge is None else "",
        initial_response_ok=True,
    )


def send(endpoint: Endpoint, credentials: Credentials | None, message: EmailMessage) -> None:
    client = open_smtp(endpoint, credentials)
    try:
        refused = client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailServerError(f"Every recipient was refused: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        kind = Transient if 400 <= exc.smtp_code < 500 else MailServerError
        raise kind(
            f"The server refused the email: {exc.smtp_code} {text_of(exc.smtp_error)}"
        ) from exc
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    if refused:
        raise MailServerError(f"Some recipients were refused: {refused}")
