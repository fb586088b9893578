"""The two kinds of synced records seen one way, so a sync pass (services/sync_runs.py) treats
contacts and activities alike: a record's data as the account sees it, written back onto the
row, the key that recognises a record postroom created but could not note as pushed, the
webhook event, and the history of versions that lost."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.services import audit, events
from postroom.services.actors import Actor
from postroom.storage.models import Activity, Contact, RecordHistory, aware
from postroom.sync.source import ContactData, EventData, RecordData

Row = Contact | Activity


def data_of(row: Row) -> RecordData:
    if isinstance(row, Contact):
        return ContactData(email=row.email, name=row.name, company=row.company, phone=row.phone)
    return EventData(
        title=row.title,
        start=aware(row.starts_at),
        end=aware(row.ends_at),
        attendees=tuple(row.attendees or ()),
        body=row.body,
        link=row.link,
    )


def apply(row: Row, data: RecordData) -> None:
    if isinstance(row, Contact) and isinstance(data, ContactData):
        row.email, row.name, row.company, row.phone = (
            data.email,
            data.name,
            data.company,
            data.phone,
        )
    elif isinstance(row, Activity) and isinstance(data, EventData):
        row.title, row.starts_at, row.ends_at = data.title, data.start, data.end
        row.attendees, row.body, row.link = list(data.attendees), data.body, data.link
    else:
        raise TypeError(f"{type(data).__name__} does not fit a {type(row).__name__}")


def same_record(data: RecordData, other: RecordData) -> bool:
    """A record postroom created on the account, seen coming back before its push was noted
    (a crash between the account's answer and the commit): the same address, or the same
    title at the same time."""
    if isinstance(data, ContactData) and isinstance(other, ContactData):
        return data.email.lower() == other.email.lower()
    if isinstance(data, EventData) and isinstance(other, EventData):
        return data.title == other.title and data.start == other.start
    return False


def kind_of(row: Row) -> str:
    return "contact" if isinstance(row, Contact) else "activity"


def model_of(kind: str) -> type[Contact] | type[Activity]:
    return Contact if kind == "contacts" else Activity


def view(row: Row) -> dict[str, Any]:
    """What leaves the process: the CLI's --json, the API, the webhooks."""
    common = {
        "id": row.id,
        "mailbox_id": row.mailbox_id,
        "remote_id": row.remote_id,
        "pending": row.pending,
        "synced_at": _iso(row.synced_at),
        "updated_at": _iso(row.updated_at),
    }
    if isinstance(row, Contact):
        return common | {
            "email": row.email,
            "name": row.name,
            "company": row.company,
            "phone": row.phone,
        }
    return common | {
        "request_id": row.request_id,
        "title": row.title,
        "start": _iso(row.starts_at),
        "end": _iso(row.ends_at),
        "attendees": list(row.attendees or []),
        "body": row.body,
        "link": row.link,
    }


def changed(db: Session, row: Row, origin: str, deleted: bool = False) -> None:
    """contact.changed or activity.changed, in the transaction of the change."""
    kind = kind_of(row)
    events.emit(db, f"{kind}.changed", {kind: view(row), "origin": origin, "deleted": deleted})


def changed_here(db: Session, actor: Actor, row: Row, verb: str, label: str, **fields: str) -> None:
    """A change made in postroom (`verb`: added, edited, removed): marked pending so the next
    sync writes it to the account, audited and announced, all in the change's transaction."""
    deleted = verb == "removed"
    row.pending = True
    row.deleting = row.deleting or deleted
    db.flush()
    audit.record(db, actor, f"{kind_of(row)}.{verb}", label, **fields)
    changed(db, row, "postroom", deleted=deleted)


def detail(db: Session, row: Row) -> dict[str, Any]:
    """The record with its history: versions that lost a conflict, or that the account deleted."""
    return view(row) | {"history": history(db, kind_of(row), row.id)}


def keep_losing(db: Session, row: Row, reason: str) -> None:
    """The version about to be overwritten or deleted goes to the record's history."""
    data = {k: _plain(v) for k, v in asdict(data_of(row)).items()}
    db.add(
        RecordHistory(
            mailbox_id=row.mailbox_id,
            kind=kind_of(row),
            record_id=row.id,
            data=data,
            reason=reason,
        )
    )


def history(db: Session, kind: str, record_id: int) -> list[dict[str, Any]]:
    rows = db.scalars(
        select(RecordHistory)
        .where(RecordHistory.kind == kind, RecordHistory.record_id == record_id)
        .order_by(RecordHistory.id)
    )
    return [{"at": _iso(h.at), "reason": h.reason, "data": h.data} for h in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return aware(value).isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _iso(moment: datetime | None) -> str | None:
    return aware(moment).isoformat() if moment else None
