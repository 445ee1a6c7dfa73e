"""A resource's output annotations as SDK getters: their types resolved once per class, not once per resource.

The Pulumi SDK converts the outputs it receives by the declared types of a resource class. Types declared as
class annotations are resolved again for every resource it registers (``pulumi/_types.py``
``_types_from_annotations``: ``typing.get_type_hints``, each string annotation compiled and evaluated), about
1.5 ms per TrainingFile on a no-op ``up``. Types declared as ``@pulumi.getter`` properties, the form the SDK's
generated providers use, are resolved once per class (``_types_from_py_properties`` is cached). The outputs, their
values and their conversion are the same either way: the getter reads the ``Output`` the SDK stores in the
instance's ``__dict__``, as generated providers' getters do.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import pulumi

R = TypeVar("R", bound=type)


def outputs_as_getters(cls: R) -> R:
    """Replace ``cls``'s own runtime annotations by getters with the same names and (evaluated) types."""
    hints = inspect.get_annotations(cls, eval_str=True)
    for name, hint in hints.items():
        setattr(cls, name, property(pulumi.getter(name=name)(_getter(name, hint))))
    cls.__annotations__ = {}  # the SDK would otherwise resolve them again, per resource
    return cls


def _getter(name: str, hint: Any) -> Callable[[Any], Any]:
    """A getter of the output ``name``, annotated with ``hint`` (the SDK reads its type from the annotation)."""

    def get(self: Any) -> Any:
        return pulumi.get(self, name)

    get.__name__ = get.__qualname__ = name
    get.__annotations__ = {"return": hint}
    return get
