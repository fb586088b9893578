"""The administrators' table, on SQLite and PostgreSQL: domains given to built-in or own
providers come first in discovery, every change is audited, and mistakes are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from postroom.discovery.context import DiscoveryContext
from postroom.domain.settings import OAuthProvider
from postroom.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from postroom.services import audit, providers, servers
from postroom.services.actors import OPERATOR, Actor
from postroom.services.discovery import discover
from postroom.services.providers import ProviderSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from tests.discovery.helpers import settings
from tests.discovery.samples import config_xml, imap
from tests.servers.web import Reply, WebServer

pytestmark = pytest.mark.usefixtures("database_url")
USER = Actor(label="ann@example.test", user_id=7, is_admin=False)


def _corp(engine: Engine) -> None:
    with unit_of_work(engine) as db:
        servers.add(db, OPERATOR, ServerSpec("corp-imap", "imap", host="imap.corp.test"))
        servers.add(
            db,
            OPERATOR,
            ServerSpec("corp-smtp", "smtp", host="smtp.corp.test", security="starttls"),
        )
        providers.add(
            db,
            OPERATOR,
            ProviderSpec(
                "corp", ("corp-imap", "corp-smtp"), "Corp Mail", "microsoft", ("corp.test",)
            ),
        )


def test_a_domain_given_to_a_built_in_provider_is_discovered_first(
    engine: Engine, ctx: DiscoveryContext, web: WebServer
) -> None:
    web.routes["/autoconfig/corp.test/mail/config-v1.1.xml"] = Reply(
        config_xml("corp.test", imap("imap.corp.test"))
    )
    with unit_of_work(engine) as db:
        providers.add_domain(db, OPERATOR, "google", "Corp.Test")
    result = discover(USER, "ann@corp.test", context=ctx, engine=engine)
    assert settings(result)[:2] == [
        ("admin", "gmail", "gmail.googleapis.com", 443, "tls"),
        ("admin", "imap", "imap.gmail.com", 993, "tls"),
    ]
    assert result.candidates[0].oauth_provider is OAuthProvider.GOOGLE
    assert ("autoconfig", "imap", "imap.corp.test", 993, "tls") in settings(result)


def test_an_own_provider_and_servers_listing_the_domain_are_discovered(
    engine: Engine, ctx: DiscoveryContext
) -> None:
    _corp(engine)
    with unit_of_work(engine) as db:
        spec = ServerSpec(
            "legacy-pop", "pop3", host="pop.corp.test", provider_domains=("corp.test",)
        )
        servers.add(db, OPERATOR, spec)
    result = discover(USER, "ann@corp.test", context=ctx, engine=engine)
    assert settings(result) == [
        ("admin", "imap", "imap.corp.test", 993, "tls"),
        ("admin", "smtp", "smtp.corp.test", 587, "starttls"),
        ("admin", "pop3", "pop.corp.test", 995, "tls"),
    ]
    assert [c.provider for c in result.candidates] == [
        "Corp Mail",
        "Corp Mail",
        "server legacy-pop",
    ]
    assert result.candidates[0].oauth_provider is OAuthProvider.MICROSOFT


def test_provider_changes_are_audited_and_a_server_a_provider_uses_is_not_removed(
    engine: Engine,
) -> None:
    """A provider cannot drop one of its servers (it is added again without it), so a server
    any provider lists stays until the provider goes, whichever of its servers it is."""
    _corp(engine)
    with unit_of_work(engine) as db:
        providers.add_domain(db, OPERATOR, "corp", "corp.example")
        providers.remove_domain(db, OPERATOR, "corp", "corp.test")
    with unit_of_work(engine) as db, pytest.raises(Conflict) as refused:
        servers.remove(db, OPERATOR, "corp-smtp")
    assert "'corp-smtp' is still used by the provider(s) corp" in str(refused.value)
    with unit_of_work(engine) as db:
        view = providers.get(db, "corp")
        assert (view.server_names, view.added_domains) == (
            ("corp-imap", "corp-smtp"),
            ("corp.example",),
        )
        providers.remove(db, OPERATOR, "corp")
    with unit_of_work(engine) as db:
        servers.remove(db, OPERATOR, "corp-smtp")
    with unit_of_work(engine) as db:
        actions = [(e.action, e.target) for e in reversed(audit.entries(db, OPERATOR, 0))]
        assert actions[2:] == [
            ("provider.added", "corp"),
            ("provider.domain-added", "corp"),
            ("provider.domain-added", "corp"),
            ("provider.domain-removed", "corp"),
            ("provider.removed", "corp"),
            ("server.removed", "corp-smtp"),
        ]
        with pytest.raises(NotFound):
            providers.get(db, "corp")
        assert [s.name for s in servers.listing(db)] == ["corp-imap"]


def test_mistakes_are_refused_with_what_to_do(engine: Engine) -> None:
    _corp(engine)
    with unit_of_work(engine) as db:
        with pytest.raises(Conflict, match="already belongs to provider 'corp'"):
            providers.add_domain(db, OPERATOR, "yahoo", "corp.test")
        with pytest.raises(Conflict, match="built-in domains"):
            providers.add_domain(db, OPERATOR, "google", "gmail.com")
        with pytest.raises(NotFound, match="built in, and stays"):
            providers.remove_domain(db, OPERATOR, "google", "gmail.com")
        with pytest.raises(InvalidInput, match="not a valid host name"):
            providers.add_domain(db, OPERATOR, "google", "not a domain")
        with pytest.raises(NotFound, match="No provider named 'nope'"):
            providers.add_domain(db, OPERATOR, "nope", "x.test")
        with pytest.raises(Conflict, match="already exists"):
            providers.add(db, OPERATOR, ProviderSpec("Google", ("corp-imap",)))
        with pytest.raises(NotFound, match="No server named 'ghost'"):
            providers.add(db, OPERATOR, ProviderSpec("other", ("ghost",)))
        with pytest.raises(InvalidInput, match="built in and cannot be removed"):
            providers.remove(db, OPERATOR, "google")
        with pytest.raises(PermissionDenied):
            providers.add_domain(db, USER, "google", "x.test")
        with pytest.raises(PermissionDenied):
            providers.add(db, USER, ProviderSpec("mine", ("corp-imap",)))


def test_a_user_may_discover_but_a_bad_timeout_is_refused(
    engine: Engine, ctx: DiscoveryContext
) -> None:
    with pytest.raises(InvalidInput, match="discovery timeout"):
        discover(USER, "ann@corp.test", timeout=0, context=ctx, engine=engine)
