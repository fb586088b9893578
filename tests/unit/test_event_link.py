"""A Graph event (or a Google one with a relative link) has no field for the link back to
its request: it rides as the body's last line and must come back apart from the body."""

from __future__ import annotations

import pytest

from postroom.sync.links import join_link, split_link


@pytest.mark.parametrize(
    ("body", "link"),
    [
        ("Call Ann back.", "https://postroom.example/requests/42"),
        ("", "https://postroom.example/requests/42"),
        ("Call Ann back.\n\nSecond paragraph.", ""),
        ("See https://example.org/doc", ""),
    ],
)
def test_the_link_and_the_body_come_back_as_they_went(body: str, link: str) -> None:
    assert split_link(join_link(body, link)) == (body, link)


def test_outlook_line_endings_do_not_hide_the_link() -> None:
    text = join_link("Call Ann back.", "https://postroom.example/r/1").replace("\n", "\r\n")
    assert split_link(text) == ("Call Ann back.", "https://postroom.example/r/1")
