"""The IDLE hub against a scripted IMAP server that misbehaves on request, and against Dovecot:
it wakes on new mail, renews IDLE before the server's timeout, and replaces a connection lost
to BYE, a drop, an unanswered DONE or a half-open socket."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import Protocol, Security
from postroom.workers.hub import IdleHub, IdleTarget, Timings
from postroom.workers.slots import Slots
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot
from tests.servers.scripted_imap import ScriptedImap

WAIT = 10.0
FAST = Timings(renew=600.0, quiet=600.0, answer=2.0, backoff=(0.05,), refused=0.1, full=0.2)


@dataclass
class Events:
    """What the hub told the scheduler, with a way to wait for it."""

    wakes: list[int] = field(default_factory=list)
    watching: list[tuple[int, bool]] = field(default_factory=list)
    renewals: list[int] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wake(self, mailbox_id: int) -> None:
        with self.changed:
            self.wakes.append(mailbox_id)
            self.changed.notify_all()

    def watch(self, mailbox_id: int, healthy: bool) -> None:
        with self.changed:
            self.watching.append((mailbox_id, healthy))
            self.changed.notify_all()

    def renewed(self, mailbox_id: int) -> None:
        with self.changed:
            self.renewals.append(mailbox_id)
            self.changed.notify_all()

    def wait_for(self, what: str, check: Callable[[], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(check, timeout=WAIT), f"{what}: {self}"


def target(
    port: int,
    mailbox_id: int = 1,
    *,
    user: str = "desk",
    password: str = "pw",
    cap: int = 10,
    last_uid: int = 4,
) -> IdleTarget:
    return IdleTarget(
        mailbox_id=mailbox_id,
        endpoint=Endpoint(Protocol.IMAP, "127.0.0.1", port, Security.NONE, 5.0, 5.0),
        credentials=Credentials(user, password),
        folder="INBOX",
        slot=(1, user),
        max_connections=cap,
        validity=7,
        last_uid=last_uid,
    )


@pytest.fixture
def scripted() -> Iterator[ScriptedImap]:
    with ScriptedImap(uidnext=5) as server:
        yield server


def hub_for(
    targets: dict[int, IdleTarget], timings: Timings, events: Events, slots: Slots | None = None
) -> IdleHub:
    hub = IdleHub(targets.get, events.wake, events.watch, slots, timings, events.renewed)
    hub.start()
    for mailbox_id in targets:
        hub.watch(mailbox_id)
    return hub


@pytest.fixture
def events() -> Events:
    return Events()


def idling_on(server: ScriptedImap, talk: int) -> Callable[[], bool]:
    return lambda: len(server.talks) >= talk and server.talks[talk - 1].idling


def test_new_mail_wakes_the_scheduler_without_leaving_idle(
    scripted: ScriptedImap, events: Events
) -> None:
    hub = hub_for({1: target(scripted.port)}, FAST, events)
    try:
        scripted.wait_for("the hub idles", idling_on(scripted, 1))
        assert events.wakes == []  # UIDNEXT 5 = last stored UID 4 + 1: nothing waits
        scripted.send("* 1 EXISTS")
        events.wait_for("a wake-up", lambda: events.wakes == [1])
        assert hub.count() == 1
        scripted.send("* 2 EXISTS")
        events.wait_for("a second wake-up", lambda: events.wakes == [1, 1])
        assert scripted.transcript() == [["LOGIN", "EXAMINE", "IDLE"]]
    finally:
        hub.stop()


def test_mail_that_came_before_the_connection_wakes_it_once(
    scripted: ScriptedImap, events: Events
) -> None:
    hub = hub_for({1: target(scripted.port, last_uid=2)}, FAST, events)
    try:
        events.wait_for("a catch-up wake-up", lambda: events.wakes == [1])
        assert (1, True) in events.watching
    finally:
        hub.stop()


def test_idle_is_renewed_with_a_status_check_before_the_servers_timeout(
    scripted: ScriptedImap, events: Events
) -> None:
    timings = Timings(renew=0.3, quiet=600.0, answer=2.0, backoff=(0.05,))
    hub = hub_for({1: target(scripted.port)}, timings, events)
    try:
        scripted.wait_for(
            "IDLE re-issued twice on the same connection",
            lambda: scripted.talks and scripted.talks[0].commands.count("IDLE") >= 3,
        )
        first = scripted.transcript()[0]
        assert first[:8] == ["LOGIN", "EXAMINE", "IDLE", "DONE", "STATUS", "IDLE", "DONE", "STATUS"]
        assert len(scripted.talks) == 1
        assert hub.renewals >= 2 and events.renewals[:2] == [1, 1]
        assert events.wakes == []  # UIDNEXT did not move
        scripted.uidnext = 9
        events.wait_for("the STATUS check finds the mail IDLE missed", lambda: events.wakes == [1])
    finally:
        hub.stop()


def test_bye_is_followed_by_a_new_connection(scripted: ScriptedImap, events: Events) -> None:
    hub = hub_for({1: target(scripted.port)}, FAST, events)
    try:
        scripted.wait_for("the hub idles", idling_on(scripted, 1))
        scripted.bye()
        scripted.wait_for("a second connection idles", idling_on(scripted, 2))
        assert events.watching == [(1, True), (1, False), (1, True)]
    finally:
        hub.stop()


def test_a_dropped_connection_is_replaced(scripted: ScriptedImap, events: Events) -> None:
    hub = hub_for({1: target(scripted.port)}, FAST, events)
    try:
        scripted.wait_for("the hub idles", idling_on(scripted, 1))
        scripted.drop()
        scripted.wait_for("a second connection idles", idling_on(scripted, 2))
        scripted.send("* 1 EXISTS")
        events.wait_for("the new connection wakes it", lambda: events.wakes == [1])
        assert hub.count() == 1
    finally:
        hub.stop()


def test_a_server_that_never_answers_done_is_left_for_a_new_connection(
    scripted: ScriptedImap, events: Events
) -> None:
    scripted.answer_done = False
    timings = Timings(renew=0.2, quiet=600.0, answer=0.3, backoff=(0.05,))
    hub = hub_for({1: target(scripted.port)}, timings, events)
    try:
        scripted.wait_for("a second connection idles", idling_on(scripted, 2))
        assert scripted.transcript()[0] == ["LOGIN", "EXAMINE", "IDLE", "DONE"]
    finally:
        hub.stop()


def test_a_half_open_connection_is_found_by_a_quiet_check(
    scripted: ScriptedImap, events: Events
) -> None:
    scripted.silent_after_idle = True  # the peer is gone: no answer, no FIN
    timings = Timings(renew=600.0, quiet=0.2, answer=0.3, backoff=(0.05,))
    hub = hub_for({1: target(scripted.port)}, timings, events)
    try:
        scripted.wait_for("a second connection", lambda: len(scripted.talks) >= 2)
        events.wait_for("IDLE lost, then held again", lambda: (1, False) in events.watching)
    finally:
        hub.stop()


def test_the_connection_cap_leaves_one_connection_for_fetching(
    scripted: ScriptedImap, events: Events
) -> None:
    slots = Slots()
    shared = {i: target(scripted.port, i, cap=3) for i in (1, 2, 3)}  # one login, three folders
    hub = hub_for(shared, FAST, events, slots)
    try:
        scripted.wait_for(
            "two connections idle", lambda: sum(t.idling for t in scripted.talks) == 2
        )
        assert slots.held((1, "desk")) == 2
        assert slots.take((1, "desk"), 3)  # the fetch still gets its connection
        assert hub.watched() == 3
    finally:
        hub.stop()


def test_the_hub_idles_on_dovecot_renews_and_wakes_on_delivery(
    dovecot: Dovecot, events: Events
) -> None:
    dovecot.add_user("hub@example.test", "hub-pass-1")
    watched = IdleTarget(
        mailbox_id=1,
        endpoint=Endpoint(Protocol.IMAP, "127.0.0.1", dovecot.imap_port, Security.NONE, 5.0, 5.0),
        credentials=Credentials("hub@example.test", "hub-pass-1"),
        folder="INBOX",
        slot=(1, "hub"),
        max_connections=10,
        validity=None,
    )
    hub = hub_for({1: watched}, Timings(renew=0.5, quiet=600.0, answer=5.0), events)
    try:
        events.wait_for("the first look wakes it (never fetched)", lambda: events.wakes == [1])
        events.wait_for("IDLE renewed on Dovecot", lambda: len(events.renewals) >= 2)
        dovecot.deliver("hub@example.test", [email_from("ann@example.org", "Printer on fire")])
        events.wait_for("a wake-up for the delivery", lambda: len(events.wakes) >= 2)
        assert events.watching == [(1, True)]
        assert hub.count() == 1
    finally:
        hub.stop()
