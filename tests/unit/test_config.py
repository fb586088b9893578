"""Settings come from POSTROOM_* variables; a wrong one is named, with what it should be."""

from __future__ import annotations

from pathlib import Path

import pytest

from postroom.config import from_environment
from postroom.errors import ConfigurationError


def test_variables_fill_settings_whatever_their_case_and_others_are_ignored() -> None:
    settings = from_environment(
        {
            "POSTROOM_DATA_DIR": "/srv/postroom",
            "postroom_fetch_batch_size": "500",
            "POSTROOM_METRICS_PUBLIC": "true",
            "POSTROOM_WEBHOOK_TIMEOUT": "2.5",
            "POSTROOM_DISCOVERY_DNS": "127.0.0.1",  # another part's setting
            "HOME": "/root",
        }
    )
    assert settings.data_dir == Path("/srv/postroom")
    assert settings.fetch_batch_size == 500
    assert settings.metrics_public is True
    assert settings.webhook_timeout == 2.5
    assert settings.resolved_database_url == "sqlite:////srv/postroom/postroom.db"


def test_defaults_apply_when_nothing_is_set() -> None:
    settings = from_environment({})
    assert settings.data_dir == Path("postroom-data")
    assert settings.database_url is None
    assert settings.push_base is None  # the default URL is this machine: no provider reaches it


def test_push_base_is_the_public_url_only_when_it_was_set() -> None:
    settings = from_environment({"POSTROOM_PUBLIC_URL": "https://mail.example.org/"})
    assert settings.push_base == "https://mail.example.org"


def test_a_wrong_value_names_the_variable_and_what_it_should_be() -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_environment({"POSTROOM_FETCH_BATCH_SIZE": "many"})
    assert "POSTROOM_FETCH_BATCH_SIZE" in str(caught.value)
    assert "integer" in str(caught.value)
