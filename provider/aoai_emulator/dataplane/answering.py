"""Asking a model of an account: resolve a deployment or model name, then answer with the shared behaviour."""

from __future__ import annotations

from ..state import Obj
from .context import Ctx
from .models import ask, knowledge, resolve_model, tokens

__all__ = ["ask", "deployment_model", "knowledge", "resolve", "tokens"]


def deployment_model(account: Obj, name: str) -> str | None:
    """The model a ready deployment named ``name`` serves, or None."""
    dep = account["deployments"].get(name)
    if dep is None or dep["properties"]["provisioningState"] != "Succeeded":
        return None
    return str(dep["properties"]["model"]["name"])


def resolve(ctx: Ctx, name: str) -> str | None:
    """The model behind ``name``: a ready deployment of the account, a base model, or a model the account holds."""
    return deployment_model(ctx.account, name) or resolve_model(ctx.account, name)
