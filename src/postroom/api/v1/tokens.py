"""My API tokens: the plain token is in the answer to its creation, and nowhere ever after."""

from __future__ import annotations

from postroom.api.token_routes import token_routes
from postroom.services import api_tokens

router = token_routes("/me/tokens", "api tokens", api_tokens.KIND)
