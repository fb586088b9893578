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


def test_push_base_counts_a_public_url_set_to_the_default_as_set() -> None:
    default = from_environment({}).public_url
    assert from_environment({"POSTROOM_PUBLIC_URL": default}).push_base == default


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("YES", True),
        ("1", True),
        ("on", True),
        (" false ", False),
        ("No", False),
        ("0", False),
        ("off", False),
    ],
)
def test_a_yes_or_no_setting_takes_the_usual_words(raw: str, expected: bool) -> None:
    assert from_environment({"POSTROOM_METRICS_PUBLIC": raw}).metrics_public is expected


def test_each_kind_of_setting_is_converted_from_its_text() -> None:
    settings = from_environment(
        {
            "POSTROOM_WORKER_LEASE": "7",
            "POSTROOM_SEND_WINDOW": " 4 ",
            "POSTROOM_DATA_DIR": "relative/dir",
            "POSTROOM_NOTIFY_CONNECTION": "Ops",
            "POSTROOM_LOG_LEVEL": "debug",
        }
    )
    assert settings.worker_lease == 7.0 and isinstance(settings.worker_lease, float)
    assert settings.send_window == 4
    assert settings.data_dir == Path("relative/dir")
    assert settings.notify_connection == "Ops"
    assert settings.log_level == "debug"


def test_an_empty_variable_for_a_setting_that_may_be_absent_means_absent() -> None:
    settings = from_environment({"POSTROOM_DATABASE_URL": "", "POSTROOM_GMAIL_PUSH_TOPIC": ""})
    assert settings.database_url is None
    assert settings.gmail_push_topic is None
    assert settings.resolved_database_url.startswith("sqlite:///")


def test_the_record_of_given_names_is_not_itself_a_variable() -> None:
    settings = from_environment({"POSTROOM_GIVEN": "public_url"})
    assert settings.given == frozenset()
    assert settings.push_base is None


def test_every_wrong_value_is_named_with_what_it_should_be() -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_environment(
            {
                "POSTROOM_METRICS_PUBLIC": "maybe",
                "POSTROOM_WEBHOOK_TIMEOUT": "soon",
                "POSTROOM_SEND_WINDOW": "",
            }
        )
    message = str(caught.value)
    assert "POSTROOM_METRICS_PUBLIC is 'maybe', it should be true or false" in message
    assert "POSTROOM_WEBHOOK_TIMEOUT is 'soon', it should be a number" in message
    assert "POSTROOM_SEND_WINDOW is '', it should be an integer" in message


def test_settings_cannot_be_changed_once_read() -> None:
    settings = from_environment({})
    with pytest.raises(AttributeError):
        settings.fetch_batch_size = 1  # type: ignore[misc]


def test_the_secret_key_and_database_url_stay_out_of_the_settings_repr() -> None:
    settings = from_environment(
        {"POSTROOM_SECRET_KEY": "k3y-material", "POSTROOM_DATABASE_URL": "postgresql://u:pw@db/p"}
    )
    assert "k3y-material" not in repr(settings)
    assert "pw@" not in repr(settings)
