"""One rooted family of errors; each message tells a person what to do next.

The CLI prints them without a traceback and the API maps them to problem+json in one place;
nothing else catches them to hide them.
"""

from __future__ import annotations


class PostroomError(Exception):
    """An error a user can act on; its message says what to do."""

    code = "error"


class InvalidInput(PostroomError):
    """A value given by the user was refused; nothing was stored."""

    code = "invalid-input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RowsRejected(InvalidInput):
    """Some rows of a batch (a file import, an API list) were refused, so none was stored."""

    code = "rows-rejected"

    def __init__(self, rows: list[tuple[int, str]], unit: str = "line") -> None:
        # One line, as every CLI error is; `--json` and the API's `rows` carry them as a list.
        shown = "; ".join(f"{unit} {row}: {message}" for row, message in rows[:50])
        more = f"; … and {len(rows) - 50} more" if len(rows) > 50 else ""
        super().__init__(
            f"{len(rows)} of the rows cannot be added, so nothing was added; "
            f"fix them and run the import again: {shown}{more}"
        )
        self.rows = rows  # (the line in the file, or the position in a list from 1; why)


class NotFound(PostroomError):
    code = "not-found"


class Conflict(PostroomError):
    """The change would break a rule about other rows (a duplicate name, a server in use)."""

    code = "conflict"


class PermissionDenied(PostroomError):
    code = "permission-denied"


class PasswordChangeRequired(PermissionDenied):
    """An administrator reset the password: the console does nothing else until it is changed."""

    code = "password-change-required"


class NotSignedIn(PostroomError):
    """No valid session or API token came with the request, or the sign-in was refused."""

    code = "not-signed-in"


class RateLimited(PostroomError):
    """Too many attempts in a short time; the message says how long to wait."""

    code = "rate-limited"


class ReasonRequired(InvalidInput):
    code = "reason-required"


class ConfigurationError(PostroomError):
    """postroom itself is set up wrongly (a bad secret key, an unreachable database)."""

    code = "configuration"


class SecretUnreadable(ConfigurationError):
    """A stored secret cannot be decrypted: the key changed or the row was tampered with."""

    code = "secret-unreadable"


class MailServerError(PostroomError):
    """A mail server did not do what we asked."""

    code = "mail-server"


class AuthFailed(MailServerError):
    """The server refused the credentials."""

    code = "auth-failed"


class MissingRight(MailServerError):
    """The provider refused a delegate for want of a mailbox right (Full Access, Send As, Send
    on Behalf) on a shared mailbox: an administrator must grant it; retrying will not help."""

    code = "missing-right"


class Unreachable(MailServerError):
    """The server could not be reached: DNS, refused, timed out, or TLS failed."""

    code = "unreachable"


class Transient(MailServerError):
    """Try again later: 4xx, timeouts, dropped connections."""

    code = "transient"


class Throttled(Transient):
    """The provider asked to slow down (HTTP 429/503 with Retry-After)."""

    code = "throttled"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NeedsReconnect(AuthFailed):
    """The OAuth2 grant is gone (revoked, expired, password changed): a person must sign in
    again; postroom never falls back to a password."""

    code = "needs-reconnect"


class TokenRejected(AuthFailed):
    """The provider refused the access token (HTTP 401): refresh once, then reconnect."""

    code = "token-rejected"


class AnswerLost(Unreachable):
    """The request went out but no answer came back: it may have taken effect."""

    code = "answer-lost"


class CommandRefused(Transient):
    """The server answered a command with NO/BAD/-ERR; the session itself is still alive."""


class TryLater(Transient):
    """The server was reached and asked to come back later (POP3 [LOGIN-DELAY], [IN-USE],
    [SYS/TEMP]): not a wrong password, not unreachable."""

    code = "try-later"


class ServerFault(MailServerError):
    """The server reports a problem of its own that waiting will not fix ([SYS/PERM])."""

    code = "server-error"


class Misconfigured(MailServerError):
    """The server was reached but the settings cannot work with it (no AUTH offered, a folder
    that may not be created): a person must change them; retrying the same way is pointless."""

    code = "misconfigured"


class LeaseLost(PostroomError):
    """Another worker owns the mailbox now (this one was paused or cut off past its lease):
    the batch was rolled back and the server was not told; the new owner fetches it."""

    code = "lease-lost"
