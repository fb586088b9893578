"""kill -9 proof of contacts sync: `postroom sync --once` killed with SIGKILL once it has
committed its first page of what the CardDAV account holds and has begun writing postroom's own
new contacts to it; run again, nothing is lost and nothing is doubled, either way."""

from __future__ import annotations

import os
from collections import Counter

from sqlalchemy import Engine, func, select

from postroom.services import contacts
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from postroom.storage.models import Contact, SyncState
from tests.conftest import Cli
from tests.integration.killing import kill_when
from tests.integration.test_sync_dav import _card, _mailbox, radicale
from tests.servers.radicale import Radicale

__all__ = ["radicale"]
ON_THE_ACCOUNT = 150  # more than a multiget's chunk: the first page is read in several
MADE_HERE = 120


def _server_emails(radicale: Radicale) -> Counter[str]:
    found: Counter[str] = Counter()
    with radicale.other("ann") as client:
        for href in radicale.hrefs(radicale.addressbook("ann"), "ann"):
            body = client.get(radicale.url.rstrip("/") + href).text
            found.update(
                line.split(":", 1)[1].strip()
                for line in body.splitlines()
                if line.startswith("EMAIL")
            )
    return found


def test_sync_killed_mid_pass_loses_nothing_and_doubles_nothing_either_way(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    assert cli("mailbox", "edit", ann, "--sync", "contacts").code == 0
    with radicale.other("ann") as client:
        for n in range(ON_THE_ACCOUNT):
            card = _card(f"there-{n}", f"there-{n}@x.example", f"There {n}")
            url = f"{radicale.addressbook('ann')}there-{n}.vcf"
            client.put(url, content=card.encode(), headers={"Content-Type": "text/vcard"})
    with unit_of_work(engine) as db:
        for n in range(MADE_HERE):
            contacts.add(db, OPERATOR, ann, f"here-{n}@x.example", f"Here {n}")

    def first_page_committed_and_pushing() -> bool:
        with unit_of_work(engine) as db:
            cursor = db.scalar(select(SyncState.cursor).where(SyncState.kind == "contacts"))
            pushed = db.scalar(
                select(func.count())
                .select_from(Contact)
                .where(Contact.email.like("here-%"), Contact.pending.is_(False))
            )
        return cursor is not None and bool(pushed)

    killed = kill_when(["sync", "--once"], dict(os.environ), first_page_committed_and_pushing)

    assert killed
    with unit_of_work(engine) as db:
        waiting = db.scalar(select(func.count()).select_from(Contact).where(Contact.pending))
    assert waiting, "the pass had finished its pushes before the kill: nothing was proved"
    assert cli("sync", "--once").code == 0

    wanted = {f"there-{n}@x.example" for n in range(ON_THE_ACCOUNT)}
    wanted |= {f"here-{n}@x.example" for n in range(MADE_HERE)}
    with unit_of_work(engine) as db:
        rows = db.execute(select(Contact.email, Contact.pending, Contact.remote_id)).all()
    assert Counter(r.email for r in rows) == Counter(wanted)  # each once here
    assert not any(r.pending for r in rows) and all(r.remote_id for r in rows)
    assert len({r.remote_id for r in rows}) == len(rows)
    assert _server_emails(radicale) == Counter(wanted)  # each once on the account
