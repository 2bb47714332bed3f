"""Frozen records at the cost of `collections.namedtuple`: the gate's one value-type idiom.

`typing.NamedTuple` needs `typing` (about 6 ms to import) and turns every field's annotation
into a compiled `ForwardRef` when the class is made; with dozens of records on the paths
that must start fast (node 1, no match) that was about 9 ms of the run. Type checkers see
`typing.NamedTuple` itself; at run time a class written the same way becomes a
`collections.namedtuple` with the same fields, defaults, methods, properties and
docstring (about 0.09 ms a class here, against 0.15 ms and `typing`'s import). Write
records as `class Name(NamedTuple):` with `from __future__ import annotations` (the
annotations stay text and are never evaluated).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing`: importing typing is what this module avoids
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    from collections import namedtuple

    _NOT_COPIED = frozenset({"__annotations__", "__module__", "__qualname__", "__dict__"})

    class _Records(type):
        """Makes each `class X(NamedTuple)` a namedtuple X given X's body: one class."""

        def __new__(mcs, name, bases, namespace):
            if not bases:  # `NamedTuple` itself
                return super().__new__(mcs, name, bases, namespace)
            fields = tuple(namespace.get("__annotations__", {}))
            defaults = [namespace[field] for field in fields if field in namespace]
            record = namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])
            for key, value in namespace.items():
                if key not in _NOT_COPIED and key not in fields:
                    setattr(record, key, value)  # the body's docstring, methods, properties
            record.__qualname__ = namespace.get("__qualname__", name)
            return record

    class NamedTuple(metaclass=_Records):
        """Base of the gate's records; see the module docstring."""

        __slots__ = ()
