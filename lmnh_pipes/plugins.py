"""The plug-in host: a new pluggy manager per call, loaded from the ``lmnh_pipes`` entry points.

Set ``LMNH_PIPES_PLUGINS`` to a comma-separated list of entry-point names to load only those
(``LMNH_PIPES_PLUGINS=files,rules``); unset, every installed plug-in loads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .registry import Registry

__all__ = ["ALLOW_VARIABLE", "get_plugin_manager", "get_registry"]

ALLOW_VARIABLE = "LMNH_PIPES_PLUGINS"


def get_plugin_manager(extra: Iterable[Any] = (), *, load_entry_points: bool = True) -> pluggy.PluginManager:
    """Return a new plug-in manager with the hookspecs added and the installed plug-ins registered.

    ``extra`` are plug-in objects registered as well (handy in tests and notebooks).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if load_entry_points:
        allowed = _allowed()
        installed = {ep.name: ep for ep in entry_points(group=hookspecs.PROJECT)}
        if allowed is not None and allowed - set(installed):
            unknown = ", ".join(sorted(allowed - set(installed)))
            raise PluginError(
                f"{ALLOW_VARIABLE} names {unknown}, which no installed plug-in is called; "
                f"installed: {', '.join(sorted(installed)) or 'none'}"
            )
        for name in sorted(installed):
            if allowed is not None and name not in allowed:
                continue
            try:
                pm.load_setuptools_entrypoints(hookspecs.PROJECT, name=name)
            except Exception as exc:
                ep = installed[name]
                dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "an unknown distribution"
                raise PluginError(
                    f"plug-in {name!r} of {dist} failed to load ({ep.value}): {type(exc).__name__}: {exc}; "
                    f"reinstall or fix it, or leave it out with {ALLOW_VARIABLE}"
                ) from exc
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


def get_registry(pm: pluggy.PluginManager | None = None, extra: Iterable[Any] = ()) -> Registry:
    """Build a registry by calling every plug-in's ``lmnh_pipes_register`` hook, in the order they registered.

    The hook is called through the manager (one plug-in at a time, so that the registry knows who provides each
    type), so an implementation that takes fewer arguments than the hookspec keeps working when one is added.
    """
    if pm is None:
        pm = get_plugin_manager(extra)
    registry = Registry()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    impls = list(reversed(pm.hook.lmnh_pipes_register.get_hookimpls()))
    for impl in impls:
        dist = dists.get(id(impl.plugin))
        name = impl.plugin_name
        registry.provider = (
            name,
            dist.metadata["Name"] if dist is not None else "",
            dist.version if dist is not None else "",
        )
        others = [i.plugin for i in impls if i.plugin is not impl.plugin]
        register = pm.subset_hook_caller("lmnh_pipes_register", remove_plugins=others)
        try:
            register(registry=registry)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"plug-in {name!r} failed to register its types: {exc}") from exc
    registry.provider = ("", "", "")
    return registry


def _allowed() -> set[str] | None:
    value = os.environ.get(ALLOW_VARIABLE)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}
