"""The plug-in host: entry points, the allow-list, duplicate names, broken plug-ins."""

from __future__ import annotations

import pytest

from lmnh_pipes import PluginError, Registry, hookimpl
from lmnh_pipes.plugins import get_plugin_manager, get_registry


class Dup:
    @hookimpl
    def lmnh_pipes_register(self, registry: Registry) -> None:
        registry.add_validator("json", dict)


class Broken:
    @hookimpl
    def lmnh_pipes_register(self, registry: Registry) -> None:
        raise RuntimeError("cannot import my driver")


def test_shipped_plugins_load_through_entry_points():
    pm = get_plugin_manager()
    names = {pm.get_name(p) for p in pm.get_plugins()}
    assert {"files", "rules"} <= names
    registry = get_registry(pm)
    json_type = registry.get("validator", "json")
    assert json_type is not None
    assert (json_type.plugin, json_type.distribution) == ("rules", "lmnh-pipes")
    assert json_type.version


def test_each_call_builds_a_new_manager():
    assert get_plugin_manager() is not get_plugin_manager()


def test_duplicate_type_names_both_plugins():
    with pytest.raises(PluginError) as exc:
        get_registry(extra=[Dup()])
    message = str(exc.value)
    assert "validator type 'json' is registered twice" in message
    assert "'rules' (lmnh-pipes)" in message


def test_broken_plugin_is_named():
    with pytest.raises(PluginError, match="failed to register its types: cannot import my driver"):
        get_registry(extra=[Broken()])


def test_allow_list_loads_only_named_plugins(monkeypatch):
    monkeypatch.setenv("LMNH_PIPES_PLUGINS", "rules")
    registry = get_registry()
    assert registry.get("validator", "json") is not None
    assert registry.names("sink") == []


def test_allow_list_empty_loads_nothing(monkeypatch):
    monkeypatch.setenv("LMNH_PIPES_PLUGINS", "")
    assert len(get_registry()) == 0


def test_registry_lists_in_kind_then_name_order():
    registry = Registry()
    registry.add_sink("b", dict)
    registry.add_validator("z", dict)
    registry.add_source("y", dict)
    registry.add_sink("a", dict)
    assert [(t.kind, t.name) for t in registry] == [("source", "y"), ("validator", "z"), ("sink", "a"), ("sink", "b")]
