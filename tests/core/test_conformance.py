"""A component that lacks what the runner will call, or implements part of a capability, is refused when the
pipeline is built: exit 2, naming the component, the plug-in and the missing method."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from lmnh_pipes import ConfigError, Pipeline, Record, Registry, hookimpl
from lmnh_pipes.cli import main
from lmnh_pipes.conformance import CAPABILITIES, conformance_problems, members
from lmnh_pipes.testing import ListSink, ListSource


class NoWrite:
    """A sink that forgot its write()."""

    def open(self) -> None:
        return None


class HalfTransactional(ListSink):
    """write_batch without stored_positions or joins."""

    def write_batch(
        self, pipeline: str, accepted: Sequence[Record], rejected: Sequence[Record], rejects: object
    ) -> int:
        return 0


class Misspelt(ListSink):
    """Everything of TransactionalSink but write_batch, which is misspelt: it would quietly be at-least-once."""

    transaction_name = "test transaction"

    def joins(self, rejects: object) -> bool:
        return False

    def stored_positions(self, pipeline: str, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return {}

    def write_batchs(
        self, pipeline: str, accepted: Sequence[Record], rejected: Sequence[Record], rejects: object
    ) -> int:
        return 0


class Bare:
    """A source with read() alone: open, ack and close are no-ops."""

    def __init__(self) -> None:
        self.done = False

    def read(self, max_records: int, timeout: float) -> Sequence[Record]:
        from lmnh_pipes import EndOfInput

        if self.done:
            raise EndOfInput
        self.done = True
        return [Record.of(b'{"n": 1}')]


class BareValidator:
    """A validator with validate() alone: it is named by its class."""

    def validate(self, record: Record) -> Record:
        return record.rejected_by("BareValidator", "no", "always")


def test_a_sink_without_write_is_refused_when_built():
    with pytest.raises(ConfigError) as exc:
        Pipeline(source=ListSource([]), sink=NoWrite())  # type: ignore[arg-type]  # what the check is for
    assert "NoWrite (tests.core.test_conformance): it has no write() method, which every sink needs" in str(exc.value)


def test_half_a_capability_is_refused_with_the_missing_methods():
    with pytest.raises(ConfigError) as exc:
        Pipeline(source=ListSource([]), sink=HalfTransactional())
    assert (
        "it implements part of TransactionalSink (write_batch) but not joins, stored_positions: implement all"
        in str(exc.value)
    )


def test_a_misspelt_write_batch_is_refused_rather_than_quietly_at_least_once():
    with pytest.raises(ConfigError, match=r"part of TransactionalSink .* but not write_batch"):
        Pipeline(source=ListSource([]), sink=Misspelt(), rejects=ListSink())


def test_lifecycle_methods_left_out_are_no_ops():
    sink = ListSink()
    report = Pipeline(source=Bare(), validators=[BareValidator()], sink=sink, rejects=sink).run()  # type: ignore[list-item, arg-type]
    assert (report.read, report.rejected) == (1, 1)
    assert list(report.rejected_by) == [("BareValidator", "always")]


def test_every_capability_has_members_and_the_shipped_components_conform():
    from lmnh_pipes.plugins import get_registry

    for protocols in CAPABILITIES.values():
        for protocol in protocols:
            assert members(protocol), protocol
    registry = get_registry()
    kafka = registry.get("source", "kafka")
    postgres = registry.get("sink", "postgres")
    csv = registry.get("sink", "csv")
    assert kafka is not None
    assert postgres is not None
    assert csv is not None
    assert conformance_problems(kafka.factory(bootstrap_servers="127.0.0.1:1", topic="t", group_id="g"), "source") == []
    assert conformance_problems(postgres.factory(dsn="host=/nowhere dbname=x", table="t"), "sink") == []
    assert conformance_problems(csv.factory(path="x.csv"), "sink") == []


class Broken:
    @hookimpl
    def lmnh_pipes_register(self, registry: Registry) -> None:
        registry.add_sink("half", HalfTransactional)
        registry.add_sink("nowrite", NoWrite)  # type: ignore[arg-type]  # what the check is for


@pytest.mark.parametrize(
    ("sink", "message"),
    [
        ("half", "it implements part of TransactionalSink (write_batch) but not joins"),
        ("nowrite", "it has no write() method, which every sink needs"),
    ],
)
def test_from_a_file_the_error_names_the_line_the_type_and_the_plug_in(tmp_path: Path, monkeypatch, sink, message):
    monkeypatch.setattr("lmnh_pipes.config.get_registry", lambda: _registry())
    path = tmp_path / "p.yaml"
    path.write_text(f"source: {{type: file, path: in.jsonl}}\nsink:\n  type: {sink}\n", encoding="utf-8")
    for command in ("check", "run"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exit_code == 2, result.output
        assert (
            f"error: {path}:3: sink.type: sink type '{sink}' of plug-in 'broken' is unusable: {message}"
            in result.output
        )
        assert "Traceback" not in result.output


def _registry() -> Registry:
    from lmnh_pipes.plugins import get_plugin_manager, get_registry

    pm = get_plugin_manager()
    pm.register(Broken(), name="broken")
    return get_registry(pm)


class OlderTransactional(ListSink):
    """An exactly-once sink written before sinks could name their transaction: still usable, described generally."""

    def joins(self, rejects: object) -> bool:
        return rejects is self

    def stored_positions(self, pipeline: str, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return {}

    def write_batch(
        self, pipeline: str, accepted: Sequence[Record], rejected: Sequence[Record], rejects: object
    ) -> int:
        self.records.extend(accepted)
        return len(accepted)


class OlderReplayable(ListSource):
    def use_position_store(self, store: object, pipeline: str) -> None:
        return None


def test_a_capability_written_before_its_wording_existed_still_works():
    sink = OlderTransactional()
    pipeline = Pipeline(name="p", source=OlderReplayable([b'{"n": 1}']), sink=sink, rejects=sink)
    assert (
        str(pipeline.plan()) == "exactly-once (rows, rejects and the source's positions in one transaction of the sink)"
    )
    assert pipeline.run().written == 1


def test_members_set_on_the_object_count_as_isinstance_counts_them():
    class Proxy:
        """Sets its methods in __init__, as a proxy or a wrapper would."""

        def __init__(self, inner: OlderTransactional) -> None:
            self.write = inner.write
            self.joins = inner.joins
            self.stored_positions = inner.stored_positions
            self.write_batch = inner.write_batch

    proxy = Proxy(OlderTransactional())
    assert conformance_problems(proxy, "sink") == []
    del proxy.write_batch
    assert conformance_problems(proxy, "sink") == [
        "it implements part of TransactionalSink (joins, stored_positions) but not write_batch: implement all of it, "
        "or none"
    ]


def test_a_capability_method_that_is_not_callable_is_refused():
    class NotCallable(ListSource):
        ready = False

    assert conformance_problems(NotCallable([]), "source") == ["its ready of Readiness must be a method"]


def test_the_moved_capabilities_still_import_from_interfaces_with_a_warning():
    from lmnh_pipes import delivery

    with pytest.warns(DeprecationWarning, match="import TransactionalSink from lmnh_pipes.delivery"):
        from lmnh_pipes.interfaces import TransactionalSink
    assert TransactionalSink is delivery.TransactionalSink
