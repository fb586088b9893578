"""Links to postroom in outgoing mail must point where the recipient can reach postroom.

postroom may listen at an address only the office sees (its public URL setting) while
recipients come in through a proxy or another host: each connection carries an action base
URL, and the bodies it sends have their links to the public URL rewritten onto that base.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from postroom.errors import InvalidInput

# A prefix matches only where the URL could end or a new part begins: "http://a.example" must
# not match http://a.example.evil/, http://a.example:8080/, http://a.example@evil/ or, for a
# prefix with a path, /appendix after /app. Sentence punctuation after a link is no part of it.
_URL_GOES_ON = r"(?![A-Za-z0-9\-_~%:@+=&$*]|\.[A-Za-z0-9\-_~%])"
_NOT_INSIDE_A_SCHEME = r"(?<![A-Za-z0-9+.\-])"  # "http://" is not the end of "xhttp://"
_UNSAFE_IN_MARKUP = re.compile(r"[\s\"'<>`\\\x00-\x1f\x7f]")


def rewrite_links(body: str, public_url: str, base_url: str) -> str:
    """`body` with every link under `public_url` moved onto `base_url`, the rest kept.

    Works on text and HTML alike. A trailing slash on either URL makes no difference; the
    scheme and host match in any case, the path exactly. Empty URLs mean nothing to rewrite.
    """
    public = _prefix(public_url, "public_url")
    base = _prefix(base_url, "action_base_url")
    if not body or not public or not base or public == base:
        return body
    parts = urlsplit(public)
    origin = re.escape(f"{parts.scheme}://{parts.netloc}")
    pattern = re.compile(
        f"{_NOT_INSIDE_A_SCHEME}(?i:{origin}){re.escape(parts.path)}{_URL_GOES_ON}"
    )
    return pattern.sub(lambda _: base, body)  # a function: the base is not a template


def _prefix(url: str, field: str) -> str:
    """The URL without its trailing slash; refused when it cannot safely stand in markup."""
    cleaned = url.strip().rstrip("/")
    if not cleaned:
        return ""
    parts = urlsplit(cleaned)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or _UNSAFE_IN_MARKUP.search(cleaned)
    ):
        raise InvalidInput(
            f"{url!r} is not a base URL for links: write it as https://host[:port][/path], "
            "without a query, fragment, spaces or quotes.",
            field=field,
        )
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"
