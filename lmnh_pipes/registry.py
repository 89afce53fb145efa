"""The registry: component type names mapped to the factories that build them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import attrs

from .errors import PluginError
from .interfaces import Sink, Source, Validator

__all__ = ["Component", "ComponentType", "Kind", "Registry"]

#: What a factory builds.
Component = Source | Validator | Sink

Kind = Literal["source", "validator", "sink"]
KINDS: tuple[Kind, ...] = ("source", "validator", "sink")


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
        """The first line of the factory's docstring."""
        doc = (self.factory.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


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
