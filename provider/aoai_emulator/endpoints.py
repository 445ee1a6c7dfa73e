"""Where an account's data plane answers: at its custom subdomain, or at its region's shared endpoint.

On Azure an account created with ``customSubDomainName`` answers at ``https://<subdomain>.openai.azure.com/``;
one created without answers only at the regional ``https://<region>.api.cognitive.microsoft.com/``, which every
account of the region shares: there the API key says which account is meant, and Microsoft Entra ID tokens are
refused, since a token names no account. Azure answers a token there with 400 ``BadRequest`` "Please provide a
custom subdomain for token authentication, otherwise API key is required." (the service's message, quoted in
Azure/azure-sdk-for-net#12789 and in users' reports; learn.microsoft.com "Authenticate requests to Azure AI
services": Microsoft Entra ID needs a custom subdomain). Subdomain names are global: Azure refuses a taken one,
even one a soft-deleted account still holds, with 409 ``CustomDomainInUse`` (message as users meet it,
Azure-Samples/azuresandbox#164, microsoft/microsoft-foundry-for-vscode#107).

The emulator has one host, so both become paths on it: ``/<subdomain>/`` and ``/_regional/<region>/`` (the
leading ``_`` keeps it apart from subdomains, which start with a letter or digit). ARM reports whichever applies
in ``properties.endpoint``, so a client that takes the endpoint from ARM reaches the account either way.
"""

from __future__ import annotations

import re

from . import errors
from .service import Service
from .state import Obj

REGIONAL = "_regional"
# ``/<subdomain>/openai[/v1]/...`` or ``/_regional/<region>/openai[/v1]/...``.
PREFIX_RE = re.compile(rf"^/(?:{REGIONAL}/(?P<region>[^/]+)|(?P<account>[^/_][^/]*))/openai(?P<v1>/v1)?(?P<rest>/.*)?$")
SUBDOMAIN_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]$|^[a-zA-Z0-9]$")


def subdomain(account: Obj) -> str | None:
    """The account's custom subdomain, or None when it has the regional endpoint only."""
    value = account["properties"].get("customSubDomainName")
    return value if isinstance(value, str) and value else None


def endpoint(base_url: str, account: Obj) -> str:
    """The data-plane endpoint ARM reports for the account, on this emulator's host."""
    name = subdomain(account)
    return f"{base_url}/{name}/" if name else f"{base_url}/{REGIONAL}/{account['location']}/"


def by_subdomain(svc: Service, name: str) -> Obj | None:
    """The live account answering at ``/<name>/``, if any."""
    lowered = name.lower()
    same = svc.accounts.get(lowered)  # the usual case: the subdomain is the account's name
    if same is not None and (subdomain(same) or "").lower() == lowered:
        return same
    return next((a for a in svc.accounts.values() if (subdomain(a) or "").lower() == lowered), None)


def by_key(svc: Service, region: str, key: str | None) -> Obj | None:
    """The account of ``region`` one of whose keys is ``key``: how the regional endpoint tells accounts apart."""
    if not key:
        return None
    region = region.replace(" ", "").lower()
    return next((a for a in svc.accounts.values() if a["location"] == region and key in a["keys"]), None)


def token_on_regional_endpoint() -> errors.ServiceError:
    """Azure's answer to a Microsoft Entra ID token on a regional endpoint."""
    return errors.ServiceError(
        400,
        "BadRequest",
        "Please provide a custom subdomain for token authentication, otherwise API key is required.",
        gateway=True,
    )


def claim(svc: Service, account_name: str, wanted: object, current: str | None) -> None:
    """Check that the account may take the subdomain ``wanted`` (a create, or a PUT/PATCH of an existing account).

    Raises ARM's 400 for a malformed or changed subdomain and 409 ``CustomDomainInUse`` for one another account
    holds, live or soft-deleted.
    """
    from .arm.deleted import soft_deleted  # noqa: PLC0415 - arm imports this module

    if wanted is None or wanted == current:
        return
    if not isinstance(wanted, str) or not SUBDOMAIN_RE.match(wanted):
        raise errors.arm_bad_request(
            "InvalidSubDomainName",
            f"properties.customSubDomainName {wanted!r} is invalid: use 1 to 63 letters, digits or '-', starting "
            "and ending with a letter or digit.",
            "properties.customSubDomainName",
        )
    if current is not None and wanted.lower() != current.lower():
        # Microsoft documents that a custom subdomain cannot be changed once set (learn.microsoft.com,
        # "Custom subdomain names for Azure AI services"); its exact error code is not documented.
        raise errors.arm_bad_request(
            "CustomSubDomainNameCannotBeChanged",
            f"properties.customSubDomainName is '{current}' and cannot be changed to '{wanted}': a custom subdomain "
            "is set once. Keep it, or create a new account with the new subdomain.",
            "properties.customSubDomainName",
        )
    holders = [*svc.accounts.values(), *soft_deleted(svc).values()]
    for other in holders:
        if other["name"].lower() != account_name.lower() and (subdomain(other) or "").lower() == wanted.lower():
            raise errors.arm_conflict(
                "CustomDomainInUse",
                f"Please pick a different name. The subdomain name '{wanted}' is not available as it's already used "
                "by a resource. If the resource using the name was deleted in the last 48 hours, you may need to "
                "purge the deleted resource.",
            )
