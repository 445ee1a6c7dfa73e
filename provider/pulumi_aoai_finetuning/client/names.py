"""How an account is named: its ARM resource id and its endpoint's normal form (no HTTP stack imported)."""

from __future__ import annotations

import re

ACCOUNT_ID_RE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/"
    r"Microsoft\.CognitiveServices/accounts/(?P<account>[^/]+)$",
    re.IGNORECASE,
)


def normalize_endpoint(endpoint: str) -> str:
    """An account endpoint with exactly one trailing slash (``https://x.openai.azure.com/``)."""
    return endpoint.rstrip("/") + "/"
