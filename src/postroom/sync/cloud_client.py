"""The cloud API client of the Graph and Google sync sources: the mail connectors' client,
whose 403 says which permission the mailbox's sign-in lacks and what to do about it."""

from __future__ import annotations

import httpx

from postroom.connectors.cloud_http import ApiClient
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.errors import PostroomError
from postroom.sync.scopes import ScopeMissing

FORBIDDEN = 403


class SyncApiClient(ApiClient):
    """A cloud API client whose 403 says which permission is missing and what to do."""

    def __init__(
        self, endpoint: Endpoint, credentials: Credentials, service: str, scope: str
    ) -> None:
        super().__init__(endpoint, credentials, service)
        self.scope = scope
        self.address = credentials.login

    def refusal(self, method: str, response: httpx.Response) -> PostroomError:
        if response.status_code == FORBIDDEN:
            return ScopeMissing(
                f"{self.service} refused access (403): the sign-in of {self.address} did not "
                f"grant {self.scope}. Reconnect the mailbox (sign in again) to grant it; "
                "mail keeps working meanwhile."
            )
        return super().refusal(method, response)
