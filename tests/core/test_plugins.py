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


def _install_fake_distribution(root, module_text: str) -> None:
    """A distribution 'acme-pipes' 1.2 whose entry point 'acme' names the module ``acme_plugin``."""
    info = root / "acme_pipes-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pipes\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text("[lmnh_pipes]\nacme = acme_plugin\n")
    (root / "acme_plugin.py").write_text(module_text)


def test_a_plugin_that_fails_to_import_is_named_with_its_distribution(tmp_path, monkeypatch):
    _install_fake_distribution(tmp_path, "import acme_driver_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as exc:
        get_plugin_manager()
    message = str(exc.value)
    assert "plug-in 'acme' of acme-pipes 1.2 failed to load (acme_plugin)" in message
    assert "ModuleNotFoundError: No module named 'acme_driver_that_is_not_installed'" in message
    assert "LMNH_PIPES_PLUGINS" in message

    from click.testing import CliRunner

    from lmnh_pipes.cli import main

    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 2
    assert result.output.startswith("error: plug-in 'acme' of acme-pipes 1.2 failed to load")
    assert "Traceback" not in result.output


def test_a_hook_implementation_with_fewer_arguments_than_the_spec_still_registers(tmp_path, monkeypatch):
    # As an older plug-in would be once the hook gains an argument: pluggy passes each implementation only the
    # arguments it names, which needs the hook to be called through the manager.
    _install_fake_distribution(
        tmp_path,
        "from lmnh_pipes import hookimpl\n"
        "called = []\n"
        "@hookimpl\n"
        "def lmnh_pipes_register():\n"
        "    called.append(True)\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = get_registry()
    import acme_plugin  # type: ignore[import-not-found]  # written by this test

    assert acme_plugin.called == [True]
    assert registry.get("validator", "json") is not None  # the others registered as before
