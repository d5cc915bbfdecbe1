"""Building pydantic models from values that are already valid, without validating them.

Hot paths (a flow actor's step snapshots, step results) build many small models from
values this process has just validated or made itself; :func:`trusted` builds them at a
fraction of the cost of validation, and of ``model_construct`` (which walks aliases).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["trusted"]

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__
_defaults: dict[type[BaseModel], dict[str, Any]] = {}


def trusted(cls: type[M], /, **values: Any) -> M:
    """Return a ``cls`` built from ``values`` as they are (no validation, no copies).

    Only for values that are valid for their fields. Fields left out take their
    default, which must be a plain value (not a factory).

    Values must be fresh: built by the caller for this model and held by nobody else.
    For a message whose fields are all tuples, frozensets or scalars nothing is frozen
    here, so a list or set passed in stays shared and mutable; values from outside the
    runtime go through validation (``cls(...)``) or ``model_construct`` instead.

    Raises:
        TypeError: a field is missing (without a plain default) or unknown; a
            programming error, never a user's.
    """
    fields = cls.__pydantic_fields__
    given = values.keys()
    if given != fields.keys():
        values = {**_plain_defaults(cls), **values}
        if values.keys() != fields.keys():
            missing = sorted(fields.keys() - values.keys())
            unknown = sorted(values.keys() - fields.keys())
            raise TypeError(f"trusted({cls.__name__}): missing {missing}, unknown {unknown}")
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(given))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    if cls.__pydantic_post_init__:  # a message freezes its lists and dicts there
        model.model_post_init(None)
    return model


def _plain_defaults(cls: type[BaseModel]) -> dict[str, Any]:
    found = _defaults.get(cls)
    if found is None:
        found = {
            name: field.default
            for name, field in cls.__pydantic_fields__.items()
            if not field.is_required() and field.default_factory is None
        }
        _defaults[cls] = found
    return found
