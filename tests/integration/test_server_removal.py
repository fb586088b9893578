"""A server a provider lists is not removed (issue 13.15): discovery would find the provider
empty, or silently short of part of its settings."""

from __future__ import annotations

from tests.conftest import Cli


def test_server_remove_is_refused_while_a_provider_uses_it_naming_the_provider(cli: Cli) -> None:
    assert (
        cli("server", "add", "corp-imap", "--protocol", "imap", "--host", "imap.corp.test").code
        == 0
    )
    added = cli("provider", "add", "corp", "--server", "corp-imap", "--domain", "corp.test")
    assert added.code == 0, added.stderr
    refused = cli("server", "remove", "corp-imap")
    assert refused.code == 1
    assert (
        "still used by the provider(s) corp" in refused.stderr
        and "corp-imap" in refused.stderr
        and "Traceback" not in refused.stderr
    )
    assert "corp-imap" in cli("server", "list").stdout
    assert cli("provider", "remove", "corp").code == 0
    assert cli("server", "remove", "corp-imap").code == 0
