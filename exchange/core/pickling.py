"""How the core's records pickle, the same way in both builds.

Pickles are read only by ``exchange upgrade``: old snapshots were the pickled
``Exchange`` object. A class that mypyc compiles has neither a ``__dict__`` nor the
``__slots__`` that pickle's default state understands, so every class an ``Exchange``
holds derives from :class:`Picklable`: its state is a dict of its attributes in both
builds, and a pickle written before this base existed (a slotted class's
``(dict or None, slots)`` pair) still loads, into either build.
"""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

_NAMES: dict[type, tuple[str, ...]] = {}


def _attribute_names(cls: type) -> tuple[str, ...]:
    """The instance attributes of ``cls``: mypyc's list, else the slots of its classes."""
    names = _NAMES.get(cls)
    if names is None:
        compiled = getattr(cls, "__mypyc_attrs__", None)
        if compiled is not None:
            names = tuple(compiled)
        else:
            found: list[str] = []
            for klass in reversed(cls.__mro__):
                slots = klass.__dict__.get("__slots__", ())
                found.extend([slots] if isinstance(slots, str) else slots)
            names = tuple(dict.fromkeys(found))
        _NAMES[cls] = names
    return names


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Picklable:
    """Pickles as a dict of the instance's attributes (unset ones left out)."""

    __slots__ = ()

    def __getstate__(self) -> dict[str, Any]:
        # A class of the Python build without slots of its own keeps the rest in __dict__.
        state: dict[str, Any] = dict(getattr(self, "__dict__", {}))
        for name in _attribute_names(type(self)):
            if hasattr(self, name):
                state[name] = getattr(self, name)
        return state

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple):  # a slotted class's default state, from old pickles
            plain, slots = state
            state = {**(plain or {}), **(slots or {})}
        for name, value in state.items():
            setattr(self, name, value)
