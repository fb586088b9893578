"""Changing a mailbox after it is added: name, workflow, servers, the receive and send switches,
after-import action, folders, poll interval and credentials. The console, the API's PATCH and
`postroom mailbox edit` all come here, so each refuses the same things with the same words."""

from __future__ import annotations

from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.domain.settings import LoginFormat, MailboxState
from postroom.errors import InvalidInput
from postroom.services import audit, oauth_apps, workflows
from postroom.services.actors import Actor
from postroom.services.mailboxes import (
    folder_to_fetch,
    get_for,
    label,
    parse_after_import,
    poll_interval_in_range,
    seal_password,
    sent_folder_to_keep,
    server_in_role,
    shared_access,
)
from postroom.storage.models import Mailbox, utcnow


@dataclass
class MailboxChange:
    """None leaves a field as it is; "" clears a server, the workflow, the user name, the OAuth
    app or the Sent folder, and puts the after-import action back to the protocol's usual."""

    display_name: str | None = None
    workflow: str | None = None
    incoming: str | None = None
    outgoing: str | None = None
    receive: bool | None = None
    send: bool | None = None
    after_import: str | None = None
    folder: str | None = None
    sent_folder: str | None = None
    poll_interval: int | None = None
    username: str | None = None
    password: str | None = None
    oauth_app: str | None = None
    sync: str | None = None  # "contacts,calendar", one of them, or "none"
    dav_url: str | None = None  # "" clears it: found by discovery again
    access: str | None = None  # own, shared-app-only, shared-delegate
    send_mode: str | None = None  # send-as, send-on-behalf ("" for a mode not a delegate's)

    def given(self) -> list[str]:
        """The fields asked to change, for the audit log (never their secret values)."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


def edit(db: Session, actor: Actor, mailbox: Mailbox, change: MailboxChange) -> Mailbox:
    """Apply the change as a whole or not at all (the service's transaction rolls back).

    The caller has already found the mailbox through get_for, so the actor may manage it.
    A new server or new credentials put the mailbox back to `new`: its old error no longer
    says anything about it, and the next check or fetch finds its state again.
    """
    if change.display_name is not None:
        mailbox.display_name = validate.display_name(change.display_name)
    if change.workflow is not None:
        if mailbox.owner_id is not None:
            actor.require_admin("tie mailboxes to workflows")
        mailbox.workflow = workflows.get(db, change.workflow) if change.workflow else None
    reconnect = _servers(db, mailbox, change) | _credentials(db, mailbox, change)
    reconnect |= _access(mailbox, change)
    _switches(mailbox, change)
    incoming = mailbox.incoming_server
    if change.after_import is not None or change.incoming is not None:
        wanted = change.after_import if change.after_import is not None else mailbox.after_import
        mailbox.after_import = parse_after_import(wanted or None, incoming)
    mailbox.folder = folder_to_fetch(
        change.folder if change.folder is not None else mailbox.folder, incoming
    )
    sent = change.sent_folder if change.sent_folder is not None else mailbox.sent_folder
    mailbox.sent_folder = sent_folder_to_keep(sent, incoming, mailbox.outgoing_server)
    if change.poll_interval is not None:
        mailbox.poll_interval = poll_interval_in_range(change.poll_interval)
    _sync(mailbox, change)
    if reconnect:
        mailbox.state = MailboxState.NEW.value
        mailbox.last_error = None
        mailbox.credentials_changed_at = utcnow()
    db.flush()
    audit.record(db, actor, "mailbox.edited", label(mailbox), fields=",".join(change.given()))
    return mailbox


def switch(
    db: Session,
    actor: Actor,
    address: str,
    owner: str | None,
    *,
    receive: bool | None = None,
    send: bool | None = None,
) -> Mailbox:
    """The receive or send switch of one mailbox, as My profile and a user's page flip them:
    an owner their own, an administrator anyone's (get_for decides, before anything changes)."""
    mailbox = get_for(db, actor, address, owner)
    return edit(db, actor, mailbox, MailboxChange(receive=receive, send=send))


def _servers(db: Session, mailbox: Mailbox, change: MailboxChange) -> bool:
    changed = False
    if change.incoming is not None:
        server = server_in_role(db, change.incoming or None, "incoming")
        changed |= server is not mailbox.incoming_server
        if mailbox.incoming_server is None and server is not None and change.receive is None:
            mailbox.receive_enabled = True  # a server just given is there to be used
        mailbox.incoming_server = server
    if change.outgoing is not None:
        server = server_in_role(db, change.outgoing or None, "outgoing")
        changed |= server is not mailbox.outgoing_server
        if mailbox.outgoing_server is None and server is not None and change.send is None:
            mailbox.send_enabled = True
        mailbox.outgoing_server = server
    if mailbox.incoming_server is None and mailbox.outgoing_server is None:
        raise InvalidInput(
            "A mailbox needs an incoming or an outgoing server: keep one of them.",
            field="incoming",
        )
    return changed


def _switches(mailbox: Mailbox, change: MailboxChange) -> None:
    """Receive and send are switches of their own (the Creatio seed): a server may stay
    configured while its direction is off. A direction without a server is always off."""
    if change.receive is not None:
        if change.receive and mailbox.incoming_server is None:
            raise InvalidInput("Receiving needs an incoming server: choose one.", field="receive")
        mailbox.receive_enabled = change.receive
    if change.send is not None:
        if change.send and mailbox.outgoing_server is None:
            raise InvalidInput("Sending needs an outgoing server: choose one.", field="send")
        mailbox.send_enabled = change.send
    if mailbox.incoming_server is None:
        mailbox.receive_enabled = False
    if mailbox.outgoing_server is None:
        mailbox.send_enabled = False


SYNC_KINDS = ("contacts", "calendar")


def _sync(mailbox: Mailbox, change: MailboxChange) -> None:
    """Contacts and calendar synced with the account, and where a DAV account keeps them."""
    if change.sync is not None:
        wanted = {k.strip().lower() for k in change.sync.split(",") if k.strip()}
        if wanted == {"none"}:
            wanted = set()
        unknown = wanted - set(SYNC_KINDS)
        if unknown:
            raise InvalidInput(
                f"Cannot sync {', '.join(sorted(unknown))}: say contacts, calendar, both "
                "(contacts,calendar) or none.",
                field="sync",
            )
        mailbox.sync_contacts = "contacts" in wanted
        mailbox.sync_calendar = "calendar" in wanted
    if change.dav_url is not None:
        url = change.dav_url.strip()
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            raise InvalidInput(
                f"{url!r} is not a DAV URL: give https://host/path of the address book, the "
                "calendar or the account's DAV home.",
                field="dav_url",
            )
        if len(url) > 2000:
            raise InvalidInput("The DAV URL is longer than 2,000 characters.", field="dav_url")
        mailbox.dav_url = url or None


def _access(mailbox: Mailbox, change: MailboxChange) -> bool:
    """Checked again on every edit: a shared mailbox must keep a Microsoft app and, app-only,
    Graph servers. Another kind of access needs another sign-in, so its tokens go."""
    access = change.access if change.access is not None else mailbox.access
    mode = change.send_mode
    if mode is None and access == mailbox.access:
        mode = mailbox.send_mode
    new_access, mailbox.send_mode = shared_access(mailbox, access, mode or None)
    if new_access == mailbox.access:
        return False
    mailbox.access = new_access
    mailbox.oauth_tokens = None
    mailbox.oauth_account = None
    mailbox.oauth_expires_at = None
    return True


def _credentials(db: Session, mailbox: Mailbox, change: MailboxChange) -> bool:
    changed = False
    if change.username is not None:
        name = change.username.strip()
        mailbox.username = name or None
        mailbox.login_format = LoginFormat.CUSTOM.value if name else None
        changed = True
    if change.oauth_app is not None:
        app = oauth_apps.get(db, change.oauth_app) if change.oauth_app else None
        if app is not mailbox.oauth_app:
            mailbox.oauth_app = app
            mailbox.oauth_tokens = None  # tokens of another app (or none) sign nothing in
            mailbox.oauth_account = None
            mailbox.oauth_expires_at = None
            changed = True
    if change.password is not None:
        if not change.password:
            raise InvalidInput("The new password is empty.", field="password")
        seal_password(mailbox, change.password)
        changed = True
    if mailbox.oauth_app is None and mailbox.password is None:
        raise InvalidInput(
            f"{mailbox.address} has no password: give one, or choose an OAuth app.",
            field="password",
        )
    return changed
