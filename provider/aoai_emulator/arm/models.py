"""What an account can deploy: ``Accounts_ListModels`` and ``Deployments_ListSkus``."""

from __future__ import annotations

from typing import Any

from ..catalog import BASE_MODELS, DEVELOPER_SKUS, INFERENCE_ONLY_MODELS
from ..dataplane.models import held_models
from ..http import Call, Reply
from ..service import Service
from .accounts import _find
from .deployments import _get

DEPLOYMENT_TYPE = "Microsoft.CognitiveServices/accounts/deployments"
# SKUs a fine-tuned model deploys on (Standard, Global Standard, Developer) and what base models deploy on.
_FINE_TUNED_SKUS = ("Standard", "GlobalStandard", "DeveloperTier")
_BASE_SKUS = ("Standard", "GlobalStandard")
_CAPACITY = {"minimum": 1, "maximum": 1000, "step": 1, "default": 1}


def _version(name: str) -> str:
    """The version a model name carries in its date suffix (``gpt-4o-mini-2024-07-18`` -> ``2024-07-18``)."""
    parts = name.rsplit("-", 3)
    if len(parts) == 4 and all(p.isdigit() for p in parts[1:]):
        return "-".join(parts[1:])
    tail = name.rsplit("-", 1)
    return tail[1] if len(tail) == 2 and tail[1].isdigit() else "1"


def _model(name: str, *, fine_tunable: bool) -> dict[str, Any]:
    capabilities = {"chatCompletion": "true"}
    entry: dict[str, Any] = {
        "format": "OpenAI",
        "name": name,
        "version": _version(name),
        "isDefaultVersion": True,
        "capabilities": capabilities,
        "skus": [{"name": sku, "usageName": f"OpenAI.{sku}.{name}", "capacity": _CAPACITY} for sku in _BASE_SKUS],
        "lifecycleStatus": "GenerallyAvailable",
    }
    if fine_tunable:
        capabilities["fineTune"] = "true"
        entry["finetuneCapabilities"] = {
            "FineTuneTokensMaxValue": "2000000000",
            "FineTuneTokensMaxValuePerExample": "65536",
        }
    return entry


def list_models(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET .../accounts/{a}/models``: the base models the account can deploy or fine-tune."""
    _find(svc, p["sub"], p["group"], p["account"])
    models = [_model(name, fine_tunable=True) for name in sorted(BASE_MODELS)]
    models += [_model(name, fine_tunable=False) for name in sorted(INFERENCE_ONLY_MODELS)]
    return Reply(200, {"value": models})


def list_skus(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET .../deployments/{d}/skus``: the SKUs and capacities the deployment's model can move to."""
    account = _find(svc, p["sub"], p["group"], p["account"])
    dep = _get(svc, account, p["deployment"])
    fine_tuned = dep["properties"]["model"]["name"] in held_models(account)
    names = _FINE_TUNED_SKUS if fine_tuned else _BASE_SKUS
    value = [
        {
            "resourceType": DEPLOYMENT_TYPE,
            "sku": {"name": name, "capacity": 1},
            "capacity": {**_CAPACITY, "maximum": 1 if name.lower() in DEVELOPER_SKUS else _CAPACITY["maximum"]},
        }
        for name in names
    ]
    return Reply(200, {"value": value})
