"""Microsoft 365 shared mailboxes over the REST API: the kind of mailbox and how a delegate
sends are fields of a mailbox, set on POST and PATCH, refused in clear words when they cannot
work, and shown on GET."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import PROBLEM, Api
from tests.api.test_sign_in import sign_in

DESK = "desk@contoso.test"


def _setup(admin: Api) -> None:
    app = {"name": "m365", "provider": "microsoft", "client_id": "id-1", "client_secret": "s-1"}
    assert admin.post("/oauth-apps", json=app).status_code == 201
    server = {"name": "graph", "protocol": "graph", "host": "graph.microsoft.com"}
    assert admin.post("/servers", json=server).status_code == 201


def test_a_shared_mailbox_is_added_changed_and_shown_over_the_api(admin: Api, ann: Api) -> None:
    _setup(admin)
    body = {"address": DESK, "incoming": "graph", "outgoing": "graph", "oauth_app": "m365"}
    added = ann.post("/mailboxes", json=body | {"access": "delegate"})  # the CLI's short word
    assert added.status_code == 201, added.text
    assert (added.json()["access"], added.json()["send_mode"]) == ("shared-delegate", "send-as")
    changed = ann.call("PATCH", f"/mailboxes/{DESK}", json={"send_mode": "send-on-behalf"})
    assert changed.status_code == 200, changed.text
    assert ann.get(f"/mailboxes/{DESK}").json()["send_mode"] == "send-on-behalf"

    refused = ann.call("PATCH", f"/mailboxes/{DESK}", json={"access": "shared-app-only"})
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert "App-only access is for system mailboxes" in refused.json()["detail"]
    assert ann.get(f"/mailboxes/{DESK}").json()["access"] == "shared-delegate"

    system = admin.post("/mailboxes", json=body | {"system": True, "access": "shared-app-only"})
    assert system.status_code == 201, system.text
    assert (system.json()["access"], system.json()["send_mode"]) == ("shared-app-only", None)
    unknown = admin.call("PATCH", f"/mailboxes/{DESK}", json={"access": "borrowed"})
    assert unknown.status_code == 422
    assert "use one of own, shared-app-only, shared-delegate" in unknown.json()["detail"]


def test_only_an_administrator_connects_a_system_mailbox_with_app_only_access(
    client: TestClient, admin: Api, ann: Api
) -> None:
    _setup(admin)
    body = {"address": DESK, "incoming": "graph", "outgoing": "graph", "oauth_app": "m365"}
    made = admin.post("/mailboxes", json=body | {"system": True, "access": "shared-app-only"})
    assert made.status_code == 201, made.text
    csrf = sign_in(client, ann.email)
    refused = client.post(
        f"/settings/mailboxes/{DESK}/connect-app-only", data={"csrf": csrf}, follow_redirects=False
    )
    assert refused.status_code == 403 and DESK not in refused.text
    assert admin.get(f"/mailboxes/{DESK}").json()["oauth_tokens_set"] is False
