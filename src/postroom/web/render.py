"""Pages from templates, the errors a form shows beside its fields, and one way to run a
form's action in its own transaction so a refusal rolls back and re-shows the form."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from postroom.api.deps import Caller
from postroom.errors import InvalidInput, PostroomError
from postroom.storage.db import unit_of_work

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
T = TypeVar("T")

NOTICES = {
    "server-added": "The server was added.",
    "server-saved": "The server was saved.",
    "server-removed": "The server was removed.",
    "oauth-app-added": "The OAuth app was added.",
    "oauth-app-saved": "The OAuth app was saved.",
    "oauth-app-removed": "The OAuth app was removed.",
    "mailbox-added": "The mailbox was added. Test it to see that it connects.",
    "mailbox-saved": "The mailbox was saved.",
    "provider-added": "The provider was added.",
    "provider-saved": "The provider was saved.",
    "provider-removed": "The provider was removed.",
    "mailbox-connected": "The mailbox is signed in with its provider and ready to use.",
    "shared-added": "The shared mailbox is added: sign in with Microsoft as yourself to "
    "connect it.",
    "mailbox-removed": "The mailbox was removed; the reason is in the audit log.",
    "mailbox-default": "That mailbox is now your default.",
    "mailbox-renamed": "The name was saved.",
    "mailbox-switched": "The switch was saved.",
    "connection-added": "The connection was added.",
    "connection-saved": "The connection was saved.",
    "connection-removed": "The connection was removed.",
    "workflow-added": "The workflow was added.",
    "workflow-changed": "The workflow was changed.",
    "workflow-steps-saved": "The steps were saved; requests kept their step.",
    "workflow-removed": "The workflow was removed; its mailboxes still name it, and hold new mail.",
    "user-added": "The user was added.",
    "user-disabled": "The user was disabled: signed out everywhere, API tokens refused.",
    "user-enabled": "The user was enabled: they can sign in again.",
    "user-role-changed": "The role was changed.",
    "user-password-set": "The password was set; their sessions were ended.",
    "user-workflows-saved": "The workflows were saved.",
    "user-removed": "The user was removed; the reason is in the audit log.",
    "password-changed": "Your password was changed.",
    "request-moved": "The request was moved.",
    "reply-queued": "Your reply is in the outbox.",
    "outbox-retried": "The email is queued again; the outbox sends it shortly.",
    "outbox-cancelled": "The email was cancelled: it will not be sent.",
    "message-routed": "The message is now in the request.",
    "message-reprocessed": "The message was routed again.",
    "retention-saved": "The retention was saved; the hourly purge follows it.",
    "token-revoked": "The token was revoked.",
    "webhook-removed": "The webhook was removed.",
    "webhook-delivered": "The test event was delivered: the receiver answered 2xx.",
    "sync-saved": "The sync switches were saved; the next pass follows them.",
    "contact-added": "The contact was added; the next sync writes it to the account.",
    "contact-saved": "The contact was saved; the next sync writes it to the account.",
    "contact-removed": "The contact was removed; the next sync deletes it on the account.",
    "activity-added": "The activity was added; the next sync writes it to the calendar.",
    "activity-saved": "The activity was saved; the next sync writes it to the calendar.",
    "activity-removed": "The activity was removed; the next sync deletes it in the calendar.",
    "webhook-not-delivered": "The test event was not accepted; its delivery below says why.",
}


def render(
    request: Request,
    name: str,
    caller: Caller | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("notice", ""))
    base: dict[str, Any] = {
        "me": caller.user if caller else None,
        "csrf": caller.session.csrf_token if caller and caller.session else "",
        "notice": notice,
        "path": request.url.path,
        "errors": {},
        "values": {},
    }
    return templates.TemplateResponse(request, name, base | context, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    context = {"status": status, "message": message, "me": None, "csrf": "", "path": ""}
    context |= {"notice": None, "errors": {}, "values": {}}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def redirect(path: str, notice: str | None = None) -> RedirectResponse:
    target = f"{path}?notice={quote(notice)}" if notice else path
    return RedirectResponse(target, status_code=303)


def field_errors(exc: PostroomError, fields: Iterable[str]) -> dict[str, str]:
    """Put the message beside the field it concerns; a service names fields as a person
    would ("connect timeout"), so match those words to the form's names."""
    names = set(fields)
    if isinstance(exc, InvalidInput) and exc.field:
        wanted = exc.field.replace(" ", "_")
        candidates = [wanted, *reversed(exc.field.split())]
        for candidate in candidates:
            if candidate in names:
                return {candidate: str(exc)}
    return {"_form": str(exc)}


@dataclass
class Outcome(Generic[T]):
    value: T | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def attempt(action: Callable[[Any], T], fields: Iterable[str] = ()) -> Outcome[T]:
    """Run the form's action in one transaction; a refusal rolls it back and becomes errors
    beside the form's fields, for the page to show with what the person typed."""
    try:
        with unit_of_work() as db:
            return Outcome(value=action(db))
    except PostroomError as exc:
        return Outcome(errors=field_errors(exc, fields))
