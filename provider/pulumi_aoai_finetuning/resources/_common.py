"""What every provider shares: the base class (stateless, configured per process) and the props of a resource."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi.dynamic import ConfigureRequest, ResourceProvider

from .. import config, plugin_threads


class Provider(ResourceProvider):
    """Base of our providers: stateless (nothing pickled but the class reference), configured per process."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A provider's create, update and delete may wait for hours: each widens the plugin's server first."""
        super().__init_subclass__(**kwargs)
        for name in ("create", "update", "delete"):
            if name in cls.__dict__:
                setattr(cls, name, plugin_threads.before_waiting(cls.__dict__[name]))

    def configure(self, req: ConfigureRequest) -> None:
        """Remember the stack config for this process: credentials are read from it per call."""
        config.set_stack_config(req.config.get)
        plugin_threads.configure(req.config.get)  # checked now; the server is widened by the first wait


def resource_props(
    kind: str, args: Any, kwargs: Mapping[str, Any], inputs: Iterable[str], outputs: Iterable[str]
) -> dict[str, Any]:
    """The props a resource registers: its inputs (from an Args object and/or keywords) and its outputs seeded.

    Outputs must be present (as ``None``) to exist on the resource at all (pulumi/pulumi#6678).
    """
    names = list(inputs)
    values = dict(vars(args)) if args is not None else {}
    unknown = set(kwargs) - set(names)
    if unknown:
        raise TypeError(f"{kind} got unknown argument(s) {sorted(unknown)}; known: {names}")
    values.update(kwargs)
    props = {name: values.get(name) for name in names}
    props.update(dict.fromkeys(outputs))
    return props
