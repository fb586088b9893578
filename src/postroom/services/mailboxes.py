"""Mailboxes: system ones (admins) and personal ones (each user, several, one default)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.domain.settings import (
    AfterImportKind,
    LoginFormat,
    MailboxAccess,
    MailboxState,
    OAuthProvider,
    Protocol,
    SendMode,
)
from postroom.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from postroom.services import audit, oauth_apps, servers, users, workflows
from postroom.services.actors import Actor
from postroom.storage.models import Mailbox, Server, User
from postroom.storage.secrets import default_box


@dataclass
class MailboxSpec:
    address: str
    incoming: str | None = None
    outgoing: str | None = None
    owner: str | None = None
    system: bool = False
    username: str | None = None
    password: str | None = None
    oauth_app: str | None = None
    workflow: str | None = None
    after_import: str | None = None
    default: bool = False
    display_name: str = ""
    poll_interval: int = 60
    folder: str = "INBOX"
    sent_folder: str | None = None
    access: str = MailboxAccess.OWN.value  # own, shared-app-only, shared-delegate
    send_mode: str | None = None  # a delegate's: send-as (the default) or send-on-behalf


def parse_after_import(value: str | None, incoming: Server | None) -> str:
    """delete | mark-read | move:FOLDER | keep; the default follows the seed: POP3 deletes."""
    protocol = Protocol(incoming.protocol) if incoming else None
    if value is None:
        return AfterImportKind.DELETE if protocol is Protocol.POP3 else AfterImportKind.MARK_READ
    kind_text, _, folder = value.strip().partition(":")
    kind = validate.choice(AfterImportKind, kind_text, "after-import action")
    if kind is AfterImportKind.MOVE and not folder.strip():
        raise InvalidInput("Name the folder to move to: --after-import move:Processed.")
    if kind is not AfterImportKind.MOVE and folder:
        raise InvalidInput(f"Only move takes a folder; write --after-import {kind.value}.")
    if protocol is Protocol.POP3 and kind in (AfterImportKind.MARK_READ, AfterImportKind.MOVE):
        raise InvalidInput(
            "POP3 has no read flag or folders: use --after-import delete or keep.",
            field="after_import",
        )
    return f"move:{folder.strip()}" if kind is AfterImportKind.MOVE else kind.value


def server_in_role(db: Session, name: str | None, role: str) -> Server | None:
    """The rules for a mailbox's fields live here, for adding and editing (mailbox_edits) alike."""
    if name is None:
        return None
    server = servers.get(db, name)
    protocol = Protocol(server.protocol)
    if role == "incoming" and not protocol.receives:
        raise InvalidInput(f"Server {name!r} speaks {protocol.value}, which cannot receive mail.")
    if role == "outgoing" and not protocol.sends:
        raise InvalidInput(f"Server {name!r} speaks {protocol.value}, which cannot send mail.")
    return server


def _owner_id(db: Session, actor: Actor, spec: MailboxSpec) -> int | None:
    if spec.system:
        actor.require_admin("add system mailboxes")
        return None
    if spec.owner is None:
        if actor.user_id is None:
            raise InvalidInput("Say whose mailbox this is: --system, or --owner EMAIL.")
        return actor.user_id
    owner = users.get(db, spec.owner)
    if owner.id != actor.user_id:
        actor.require_admin("add mailboxes for other users")
    return owner.id


def add(db: Session, actor: Actor, spec: MailboxSpec) -> Mailbox:
    address = validate.address(spec.address)
    owner_id = _owner_id(db, actor, spec)
    incoming = server_in_role(db, spec.incoming, "incoming")
    outgoing = server_in_role(db, spec.outgoing, "outgoing")
    if incoming is None and outgoing is None:
        raise InvalidInput(
            "A mailbox needs an incoming or an outgoing server (--incoming, --outgoing)."
        )
    app = oauth_apps.get(db, spec.oauth_app) if spec.oauth_app else None
    if app is None and not spec.password:
        raise InvalidInput(
            f"No password for {address}: pass it on standard input with --password-stdin.",
            field="password",
        )
    if spec.default and owner_id is None:
        raise InvalidInput("Only personal mailboxes have a default; system mailboxes have none.")
    if spec.workflow and owner_id is not None:
        actor.require_admin("tie mailboxes to workflows")
    workflow = workflows.get(db, spec.workflow) if spec.workflow else None
    duplicate = select(Mailbox.id).where(Mailbox.address == address)
    duplicate = duplicate.where(
        Mailbox.owner_id.is_(None) if owner_id is None else Mailbox.owner_id == owner_id
    )
    if db.scalar(duplicate) is not None:
        raise Conflict(f"{address} is already added{'' if owner_id is None else ' for this user'}.")
    mailbox = Mailbox(
        address=address,
        display_name=validate.display_name(spec.display_name),
        owner_id=owner_id,
        incoming_server=incoming,
        outgoing_server=outgoing,
        receive_enabled=incoming is not None,
        send_enabled=outgoing is not None,
        username=spec.username.strip() if spec.username else None,
        login_format=LoginFormat.CUSTOM.value if spec.username else None,
        oauth_app=app,
        workflow=workflow,
        after_import=parse_after_import(spec.after_import, incoming),
        poll_interval=poll_interval_in_range(spec.poll_interval),
        folder=folder_to_fetch(spec.folder, incoming),
        sent_folder=sent_folder_to_keep(spec.sent_folder, incoming, outgoing),
        state=MailboxState.NEW.value,
    )
    mailbox.access, mailbox.send_mode = shared_access(mailbox, spec.access, spec.send_mode)
    db.add(mailbox)
    db.flush()
    if spec.password:
        seal_password(mailbox, spec.password)
    if owner_id is not None:
        first = db.scalar(
            select(Mailbox.id).where(Mailbox.owner_id == owner_id, Mailbox.id != mailbox.id)
        )
        if spec.default or first is None:
            _make_default(db, mailbox)
    audit.record(db, actor, "mailbox.added", label(mailbox), system=owner_id is None)
    return mailbox


def shared_access(
    mailbox: Mailbox, access_text: str, send_mode_text: str | None
) -> tuple[str, str | None]:
    """Check how a mailbox is reached against what it is; (access, send mode) to store.
    `app-only` and `delegate` (the CLI's words, also in imports) stand for the shared kinds."""
    short = {"app-only": MailboxAccess.SHARED_APP_ONLY, "delegate": MailboxAccess.SHARED_DELEGATE}
    access = short.get(access_text.strip().lower()) or validate.choice(
        MailboxAccess, access_text, "access"
    )
    if not access.shared:
        if send_mode_text:
            raise InvalidInput(
                "Send as / send on behalf is for a shared mailbox worked through a person's "
                "sign-in: add --shared delegate, or leave the send mode out.",
                field="send_mode",
            )
        return access.value, None
    app = mailbox.oauth_app
    if app is None or app.provider != OAuthProvider.MICROSOFT.value:
        raise InvalidInput(
            "A Microsoft 365 shared mailbox has no password of its own: choose a Microsoft "
            "OAuth app (--oauth-app NAME).",
            field="oauth_app",
        )
    if access is MailboxAccess.SHARED_APP_ONLY:
        if mailbox.owner_id is not None:
            raise InvalidInput(
                "App-only access is for system mailboxes: a person's mailbox reaches a shared "
                "mailbox with their own sign-in (--shared delegate).",
                field="access",
            )
        protocols = {s.protocol for s in (mailbox.incoming_server, mailbox.outgoing_server) if s}
        if protocols != {Protocol.GRAPH.value}:
            raise InvalidInput(
                "App-only access reaches a shared mailbox through Microsoft Graph only: choose "
                "a Graph server for receiving and sending.",
                field="access",
            )
        if send_mode_text:
            raise InvalidInput(
                "With app-only access the mail is simply from the shared mailbox: leave the "
                "send mode out (it is for delegates).",
                field="send_mode",
            )
        return access.value, None
    mode = validate.choice(SendMode, send_mode_text or SendMode.SEND_AS.value, "send_mode")
    return access.value, mode.value


def folder_to_fetch(folder: str, incoming: Server | None) -> str:
    cleaned = folder.strip()
    if not cleaned or any(ord(c) < 32 for c in cleaned):
        raise InvalidInput("Give the folder to fetch from, e.g. INBOX.", field="folder")
    if cleaned != "INBOX" and incoming is not None and incoming.protocol == Protocol.POP3.value:
        raise InvalidInput("POP3 has only the inbox: leave --folder out.", field="folder")
    return cleaned


def sent_folder_to_keep(
    folder: str | None, incoming: Server | None, outgoing: Server | None
) -> str | None:
    if folder is None or not folder.strip():
        return None
    if incoming is None or incoming.protocol != Protocol.IMAP.value or outgoing is None:
        raise InvalidInput(
            "A Sent folder copy needs an IMAP incoming server and an outgoing server: "
            "set both (--incoming, --outgoing) or leave --sent-folder out.",
            field="sent_folder",
        )
    cleaned = folder.strip()
    if len(cleaned) > 500 or any(ord(c) < 32 for c in cleaned):
        raise InvalidInput(f"{folder!r} is not a folder name.", field="sent_folder")
    return cleaned


def poll_interval_in_range(seconds: int) -> int:
    if not 1 <= seconds <= 86_400:
        raise InvalidInput(
            f"A poll interval of {seconds} s is out of range: use 1 to 86400 seconds.",
            field="poll_interval",
        )
    return seconds


def label(mailbox: Mailbox) -> str:
    return (
        mailbox.address if mailbox.owner is None else f"{mailbox.address} ({mailbox.owner.email})"
    )


def _make_default(db: Session, mailbox: Mailbox) -> None:
    db.execute(
        update(Mailbox)
        .where(Mailbox.owner_id == mailbox.owner_id, Mailbox.id != mailbox.id)
        .values(is_default=False)
    )
    db.flush()
    mailbox.is_default = True
    db.flush()


def visible_to(actor: Actor) -> Select[Mailbox]:
    query = select(Mailbox)
    if not actor.is_admin:
        query = query.where(Mailbox.owner_id == actor.user_id)
    return query


def listing(db: Session, actor: Actor) -> list[Mailbox]:
    query = visible_to(actor).order_by(Mailbox.owner_id.is_not(None), Mailbox.address)
    return list(db.scalars(query))


def get_for(db: Session, actor: Actor, address: str, owner: str | None = None) -> Mailbox:
    """A mailbox the actor may manage; another user's is reported as not found, never refused."""
    query = visible_to(actor).where(Mailbox.address == address.strip().lower())
    if owner is not None:
        owner_row = db.scalar(select(User).where(User.email == owner.strip().lower()))
        if owner_row is None and actor.is_admin:
            users.get(db, owner)  # an administrator may learn that no such user exists
        query = query.where(Mailbox.owner_id == (owner_row.id if owner_row else -1))
    found = list(db.scalars(query))
    if len(found) > 1:
        system = [m for m in found if m.owner_id is None]
        if len(system) == 1 and owner is None:
            return system[0]
        raise Conflict(f"Several users have added {address}: say whose with --owner EMAIL.")
    if not found:
        raise NotFound(f"No mailbox {address} among those you manage: `postroom mailbox list`.")
    return found[0]


def get_system(db: Session, actor: Actor, address: str) -> Mailbox:
    actor.require_admin("manage system mailboxes")
    query = select(Mailbox).where(
        Mailbox.address == address.strip().lower(), Mailbox.owner_id.is_(None)
    )
    mailbox = db.scalar(query)
    if mailbox is None:
        raise NotFound(f"No system mailbox {address}: `postroom mailbox list` shows them.")
    return mailbox


def rename(
    db: Session, actor: Actor, address: str, display_name: str, owner: str | None = None
) -> Mailbox:
    """The name people see beside the address when mail is sent from it."""
    mailbox = get_for(db, actor, address, owner)
    name = validate.display_name(display_name)
    mailbox.display_name = name
    audit.record(db, actor, "mailbox.renamed", label(mailbox), name=name)
    return mailbox


def set_default(db: Session, actor: Actor, address: str, owner: str | None = None) -> Mailbox:
    mailbox = get_for(db, actor, address, owner)
    if mailbox.owner_id is None:
        raise InvalidInput("System mailboxes have no default; only personal mailboxes do.")
    _make_default(db, mailbox)
    audit.record(db, actor, "mailbox.default-set", label(mailbox))
    return mailbox


def remove(db: Session, actor: Actor, address: str, reason: str, owner: str | None = None) -> None:
    why = validate.reason(reason)
    mailbox = get_for(db, actor, address, owner)
    if mailbox.owner_id is None and not actor.is_admin:
        raise PermissionDenied("Only administrators may remove system mailboxes.")
    owner_id, was_default = mailbox.owner_id, mailbox.is_default
    audit.record(db, actor, "mailbox.removed", label(mailbox), reason=why)
    db.delete(mailbox)
    db.flush()
    if was_default and owner_id is not None:
        successor = db.scalar(
            select(Mailbox).where(Mailbox.owner_id == owner_id).order_by(Mailbox.id)
        )
        if successor is not None:
            _make_default(db, successor)


def seal_password(mailbox: Mailbox, password: str) -> None:
    mailbox.password = default_box().seal(password, mailbox.secret_identity("password"))


def change_password(db: Session, actor: Actor, mailbox: Mailbox, password: str) -> None:
    """The caller has already found the mailbox through get_for, so the actor may manage it."""
    if not password:
        raise InvalidInput("The new password is empty.", field="password")
    seal_password(mailbox, password)
    audit.record(db, actor, "mailbox.password-changed", label(mailbox))


def password_of(mailbox: Mailbox) -> str | None:
    if mailbox.password is None:
        return None
    return default_box().open(mailbox.password, mailbox.secret_identity("password"))


def login_for(mailbox: Mailbox, server: Server) -> str:
    fmt = LoginFormat(mailbox.login_format or server.login_format)
    return fmt.login_for(mailbox.address, mailbox.username)
