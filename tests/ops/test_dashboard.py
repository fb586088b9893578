"""The Grafana dashboard in the repository asks only for metrics postroom exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from postroom.api.app import create_app
from tests.api.conftest import make_user

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "postroom.json"


def test_every_metric_on_the_dashboard_is_exposed(postroom_env: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    asked = {
        re.sub(r"_(total|bucket)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"postroom_[a-z_]+", target["expr"])
    }
    token = make_user("admin@example.test", admin=True)
    with TestClient(create_app(workers=False)) as client:
        client.get("/health")  # the event metrics exist from the first event on
        text = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    exposed = {family.name for family in text_string_to_metric_families(text)}
    assert len(asked) >= 15
    assert asked <= exposed, asked - exposed
