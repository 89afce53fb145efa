"""The plug-in hook. A plug-in is a module (or object) that implements it, named by an entry point.

A plug-in package declares, in its ``pyproject.toml``::

    [project.entry-points.lmnh_pipes]
    my_plugin = "my_package.plugin"

and implements, in ``my_package/plugin.py``::

    from lmnh_pipes import hookimpl

    @hookimpl
    def lmnh_pipes_register(registry):
        registry.add_validator("no_test_sites", NoTestSites)

``NoTestSites`` is a class (or any callable) whose keyword arguments are the component's options; the same
names are the keys of its mapping in a pipeline file. Its instances satisfy
:class:`~lmnh_pipes.interfaces.Validator` (or ``Source`` / ``Sink`` for ``add_source`` / ``add_sink``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .registry import Registry

__all__ = ["PROJECT", "hookimpl", "hookspec"]

#: The pluggy project name, which is also the entry-point group.
PROJECT = "lmnh_pipes"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def lmnh_pipes_register(registry: Registry) -> None:
    """Add this plug-in's component types to ``registry``.

    Called once per plug-in manager, when it is created, with the registry that the manager's pipelines use.
    Call ``registry.add_source``, ``add_validator`` or ``add_sink`` for each type. Raising makes the whole
    registry unusable: the error is reported as a :class:`~lmnh_pipes.errors.PluginError` naming the plug-in.
    """
