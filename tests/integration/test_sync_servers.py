"""The contacts and calendar halves of the local Graph and Google servers refuse what the
documentation says the providers refuse; the sync tests rely on that, so it is pinned here."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.servers.certs import TestCA
from tests.servers.gmail import GmailServer
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer


@pytest.fixture
def http(test_ca: TestCA) -> Iterator[httpx.Client]:
    with httpx.Client(verify=test_ca.client_ssl_context()) as client:
        yield client


def test_graph_calendar_view_delta_wants_a_window_and_if_match_guards_writes(
    graph: GraphServer, identity: IdentityServer, http: httpx.Client
) -> None:
    token = identity.issue("desk@contoso.test", "app-1", "Contacts.ReadWrite Calendars.ReadWrite")
    headers = {"Authorization": f"Bearer {token}"}
    base = graph.base_url + "/v1.0/me"

    no_window = http.get(base + "/calendarView/delta", headers=headers)
    assert no_window.status_code == 400

    made = http.post(base + "/contacts", headers=headers, json={"displayName": "Ann"}).json()
    assert made["@odata.etag"] == f'W/"{made["changeKey"]}"'
    stale = {"If-Match": 'W/"not-it"'} | headers
    refused = http.patch(f"{base}/contacts/{made['id']}", headers=stale, json={})
    assert refused.status_code == 412
    assert refused.json()["error"]["code"] == "ErrorIrresolvableConflict"
    current = {"If-Match": made["@odata.etag"]} | headers
    assert http.delete(f"{base}/contacts/{made['id']}", headers=current).status_code == 204


def test_google_refuses_a_listing_without_fields_a_sync_token_with_time_min_and_a_stale_etag(
    gmail: GmailServer, identity: IdentityServer, http: httpx.Client
) -> None:
    token = identity.issue("ann@gmail.test", "google-app-1", "contacts calendar")
    headers = {"Authorization": f"Bearer {token}"}

    no_fields = http.get(gmail.base_url + "/v1/people/me/connections", headers=headers)
    assert (no_fields.status_code, no_fields.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")

    events = gmail.base_url + "/calendar/v3/calendars/primary/events"
    synced = http.get(events, headers=headers).json()
    both = {"syncToken": synced["nextSyncToken"], "timeMin": "2026-01-01T00:00:00Z"}
    assert http.get(events, params=both, headers=headers).status_code == 400

    person = gmail.add_person("ann@gmail.test", {"names": [{"unstructuredName": "Bob"}]})
    update = f"{gmail.base_url}/v1/{person}:updateContact"
    params = {"updatePersonFields": "names", "personFields": "names"}
    stale = http.patch(update, params=params, headers=headers, json={"etag": "old", "names": []})
    assert (stale.status_code, stale.json()["error"]["status"]) == (400, "FAILED_PRECONDITION")


def test_both_refuse_contacts_and_calendars_to_a_token_without_their_scopes(
    graph: GraphServer, gmail: GmailServer, identity: IdentityServer, http: httpx.Client
) -> None:
    mail_only = identity.issue(
        "desk@contoso.test", "app-1", "https://graph.microsoft.com/Mail.ReadWrite"
    )
    headers = {"Authorization": f"Bearer {mail_only}"}
    refused = http.get(graph.base_url + "/v1.0/me/contacts/delta", headers=headers)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "ErrorAccessDenied")
    reader = identity.issue(
        "desk@contoso.test", "app-1", "https://graph.microsoft.com/Contacts.Read"
    )
    headers = {"Authorization": f"Bearer {reader}"}
    assert http.get(graph.base_url + "/v1.0/me/contacts/delta", headers=headers).status_code == 200
    write = http.post(graph.base_url + "/v1.0/me/contacts", headers=headers, json={})
    assert write.status_code == 403

    gmail_only = identity.issue("ann@gmail.test", "google-app-1", "https://mail.google.com/")
    headers = {"Authorization": f"Bearer {gmail_only}"}
    events = http.get(gmail.base_url + "/calendar/v3/calendars/primary/events", headers=headers)
    error = events.json()["error"]
    assert (events.status_code, error["status"]) == (403, "PERMISSION_DENIED")
    assert error["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
