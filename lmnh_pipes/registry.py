"""The registry: component type names mapped to the factories that build them."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from typing import Literal

import attrs

from .errors import PluginError
from .interfaces import Sink, Source, Validator

__all__ = ["Component", "ComponentType", "Kind", "Registry", "first_sentence"]

#: What a factory builds.
Component = Source | Validator | Sink

Kind = Literal["source", "validator", "sink"]
KINDS: tuple[Kind, ...] = ("source", "validator", "sink")


# A sentence ends at a full stop (or ! or ?) that follows anything but another stop, then white space, then a
# capital letter, a quote, a backquote or a parenthesis: "e.g. this", "1.5", "``a.b``" and "a .. b" go on.
_SENTENCE_END = re.compile(r"(?<=[^.][.!?])\s+(?=[A-Z`'\"(])")


def first_sentence(doc: str) -> str:
    """The first sentence of a docstring's first paragraph, its lines joined."""
    paragraph = " ".join(inspect.cleandoc(doc).split("\n\n", 1)[0].split())
    return _SENTENCE_END.split(paragraph, maxsplit=1)[0]


@attrs.frozen(kw_only=True)
class ComponentType:
    """One usable type: its kind, its name, the factory that builds it, and who provides it."""

    kind: Kind
    name: str
    factory: Callable[..., Component]
    plugin: str = ""
    distribution: str = ""
    version: str = ""

    @property
    def summary(self) -> str:
        """The first sentence of the factory's docstring, whole (on one line, however many it spans)."""
        return first_sentence(self.factory.__doc__ or "")


@attrs.define
class Registry:
    """Type name -> factory, per kind. Registering a name twice is a :class:`PluginError` naming both plug-ins.

    Plug-ins receive a registry in their ``lmnh_pipes_register`` hook. ``provider`` is set by the plug-in
    manager while each plug-in registers, so that listings and errors can say who provides a type.
    """

    _types: dict[tuple[Kind, str], ComponentType] = attrs.field(factory=dict, init=False)
    provider: tuple[str, str, str] = ("", "", "")

    def add_source(self, name: str, factory: Callable[..., Source]) -> None:
        """Register a source type: ``factory(**options)`` builds one (a class whose keyword arguments are its
        options)."""
        self._add("source", name, factory)

    def add_validator(self, name: str, factory: Callable[..., Validator]) -> None:
        """Register a validator type: ``factory(**options)`` builds one."""
        self._add("validator", name, factory)

    def add_sink(self, name: str, factory: Callable[..., Sink]) -> None:
        """Register a sink type: ``factory(**options)`` builds one."""
        self._add("sink", name, factory)

    def _add(self, kind: Kind, name: str, factory: Callable[..., Component]) -> None:
        plugin, dist, version = self.provider
        old = self._types.get((kind, name))
        if old is not None:
            raise PluginError(
                f"{kind} type {name!r} is registered twice: by plug-in {old.plugin!r} ({old.distribution}) "
                f"and by plug-in {plugin!r} ({dist})"
            )
        self._types[(kind, name)] = ComponentType(
            kind=kind, name=name, factory=factory, plugin=plugin, distribution=dist, version=version
        )

    def get(self, kind: Kind, name: str) -> ComponentType | None:
        """The type of that kind and name, or None."""
        return self._types.get((kind, name))

    def names(self, kind: Kind) -> list[str]:
        """Every registered name of one kind, sorted."""
        return sorted(n for k, n in self._types if k == kind)

    def __iter__(self) -> Iterator[ComponentType]:
        return iter(sorted(self._types.values(), key=lambda t: (KINDS.index(t.kind), t.name)))

    def __len__(self) -> int:
        return len(self._types)
