"""Folder names as the server spells them (RFC 2342 NAMESPACE, the LIST delimiter).

Where personal folders live under a prefix (`INBOX.` with separator `.`, as Cyrus's Debian
default and Courier have it), a user's `Processed` is `INBOX.Processed` there, and `Archive/2026`
is `INBOX.Archive.2026`. A folder that cannot be made is a setting to fix, named with a hint.
"""

from __future__ import annotations

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from postroom.connectors.server_words import words
from postroom.errors import Misconfigured


def personal_namespace(client: IMAPClient) -> tuple[str, str | None]:
    """The personal prefix and hierarchy delimiter; ("", delimiter of LIST "" "") without
    NAMESPACE."""
    if client.has_capability("NAMESPACE"):
        personal = client.namespace().personal
        if personal:
            prefix, delimiter = personal[0]
            return str(prefix or ""), str(delimiter) if delimiter else None
    found = client.list_folders("", "")
    delimiter = found[0][1] if found else None
    return "", delimiter.decode() if isinstance(delimiter, bytes) else delimiter


def server_name(client: IMAPClient, name: str) -> str:
    """The name the server knows for a user's folder; an existing folder is used as given."""
    if name.upper() == "INBOX" or client.folder_exists(name):
        return name
    prefix, delimiter = personal_namespace(client)
    if delimiter and delimiter != "/":
        name = name.replace("/", delimiter)
    if prefix and not name.upper().startswith(prefix.upper()):
        name = prefix + name
    return name


def ensure(client: IMAPClient, name: str, purpose: str, hint: str) -> str:
    """The server's name for `name`, made if missing; Misconfigured names it when refused."""
    folder = server_name(client, name)
    if client.folder_exists(folder):
        return folder
    try:
        client.create_folder(folder)
    except IMAPClientError as exc:
        shown = repr(folder) if folder == name else f"{folder!r} (for {name!r})"
        said = words(exc).rstrip(".")
        raise Misconfigured(
            f"The folder {shown} for {purpose} could not be created: {said}. {hint}"
        ) from exc
    return folder
