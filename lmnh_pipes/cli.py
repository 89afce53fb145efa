"""The ``lmnh-pipes`` command: thin click commands over :mod:`config` and :mod:`runner`."""

from __future__ import annotations

import difflib
import json
import shutil
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from .capabilities import FractionDone, OnlineCheck, Sized
from .config import Stages, load, load_stages
from .describe import describe, describe_types, list_types
from .errors import ConfigError, LmnhPipesError, Problem
from .logs import PipelineFilter, setup_logging
from .offsets import Target, move_offsets, show_offsets
from .pipeline import Pipeline
from .pipetest import run_paths
from .plan import DeliveryPlan, Guarantee, resumes
from .plugins import get_registry
from .progress import Progress
from .records import json_default
from .schema import pipeline_schema, render
from .stopping import signals_ignored
from .tap import record_json, tap
from .timestamps import TimestampError, parse_rfc3339

__all__ = ["main"]

EXIT_RUN_FAILED = 1
EXIT_CONFIG = 2

T = TypeVar("T")


class _Command(click.Command):
    """A command that, given a global option after its name, says where that option goes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # the parser consumes ``args``
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            root = ctx.find_root()
            name = exc.option_name
            options = {o: p for p in root.command.params if isinstance(p, click.Option) for o in p.opts}
            if name not in options:
                if exc.possibilities:
                    raise
                close = difflib.get_close_matches(name, list(options), n=1)
                if not close:
                    raise
                raise click.NoSuchOption(
                    name,
                    f"No such option: {name} (did you mean {close[0]}, a global option? it goes before the "
                    f"command: {root.info_name} {close[0]} ... {ctx.info_name} ...)",
                    ctx=ctx,
                ) from None
            moved, rest = _global_first(given, name, options[name].is_flag)
            raise click.NoSuchOption(
                name,
                f"No such option: {name} ({name} is a global option: give it before the command, as in: "
                f"{' '.join([root.info_name or 'lmnh-pipes', *moved, ctx.info_name or '', *rest])})",
                ctx=ctx,
            ) from None


def _global_first(args: Sequence[str], name: str, flag: bool) -> tuple[list[str], list[str]]:
    """``args`` of a command split into the global option ``name`` (with its value) and the rest."""
    for i, arg in enumerate(args):
        if arg == name:
            taken = 1 if flag or i + 1 >= len(args) else 2
            return list(args[i : i + taken]), [*args[:i], *args[i + taken :]]
        if arg.startswith(f"{name}="):
            return [arg], [*args[:i], *args[i + 1 :]]
    return [name], list(args)


class _Main(click.Group):
    command_class = _Command


_pipeline_arg = click.argument("pipeline_file", metavar="PIPELINE.yaml", type=click.Path(path_type=Path))
_env_file_opt = click.option(
    "--env-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Load variables from this file (default: a .env beside the pipeline file, "
    "or in the working directory). The environment wins.",
)
_traceback_opt = click.option("--traceback", is_flag=True, help="Show the traceback of an error.")
_idle_timeout_opt = click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop when no record has come for this long.",
)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lmnh-pipes")
@click.option(
    "--log-level",
    default="WARNING",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="json: one object per line (level, message, pipeline, component, record coordinates).",
)
@click.pass_context
def main(ctx: click.Context, log_level: str, log_format: str) -> None:
    """Run plug-in pipelines: a source, a chain of validators, and sinks for accepted and rejected records."""
    ctx.obj = setup_logging(log_level, log_format)


@main.command()
@_pipeline_arg
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after reading N records.")
@_idle_timeout_opt
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="After SIGINT/SIGTERM, how long an outage may delay the final write before the run fails.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="A live progress line on stderr (default: when stderr is a terminal).",
)
@click.option(
    "--status-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Without a terminal, log a status line this often (at INFO level).",
)
@_env_file_opt
@_traceback_opt
def run(
    pipeline_file: Path,
    limit: int | None,
    idle_timeout: float | None,
    shutdown_timeout: float,
    as_json: bool,
    progress: bool | None,
    status_interval: float,
    env_file: Path | None,
    traceback: bool,
) -> None:
    """Build the pipeline and run it until the source ends, --limit, --idle-timeout, or SIGINT/SIGTERM."""
    pipeline = _load(pipeline_file, env_file, traceback)
    _name_logs(pipeline)
    source = pipeline.source
    if progress is None:  # a live line between JSON log lines would break them
        progress = sys.stderr.isatty() and click.get_current_context().find_root().params["log_format"] != "json"
    # With a limit and a size, the run ends at whichever comes first.
    totals = [n for n in (limit, source.size_hint() if isinstance(source, Sized) else None) if n]
    show = Progress(
        sys.stderr,
        live=progress,
        total=min(totals) if totals else None,
        fraction=source.fraction_done if isinstance(source, FractionDone) else None,
        interval=status_interval,
    )
    try:
        with show:
            report = pipeline.run(
                limit=limit,
                idle_timeout=idle_timeout,
                shutdown_timeout=shutdown_timeout,
                on_batch=show,
                tune_interpreter=True,
            )
    except ConfigError as exc:
        _fail(exc, EXIT_CONFIG, traceback)
    except LmnhPipesError as exc:
        _fail(exc, EXIT_RUN_FAILED, traceback, prefix="run failed: ")
    except KeyboardInterrupt:
        click.echo(f"error: {_interrupted(pipeline)}", err=True)
        sys.exit(EXIT_RUN_FAILED)
    with signals_ignored():  # the run has ended as asked: a late second Ctrl-C must not turn that into a kill
        click.echo(json.dumps(report.to_dict()) if as_json else str(report))


def _interrupted(pipeline: Pipeline) -> str:
    """What a second SIGINT/SIGTERM, which stops a run at once, means for the batch in hand."""
    try:
        guarantee = pipeline.plan().guarantee
    except ConfigError:
        guarantee = Guarantee.AT_LEAST_ONCE
    stopped = "stopped at once by a second signal, without finishing the batch in hand"
    if guarantee is Guarantee.EXACTLY_ONCE:
        return f"{stopped}: the next run resumes from the positions stored with the rows, so none is written twice"
    if guarantee is Guarantee.HELD_UNTIL_CLOSE:
        return f"{stopped}: nothing of this run was committed, and the next run reads it all again"
    if not resumes(pipeline.source):
        return f"{stopped}: the source keeps no position, so the next run starts it afresh"
    return (
        f"{stopped}: it was not committed, so the next run reads it again (at-least-once: records of it that were "
        f"already written are written twice)"
    )


@main.command()
@_pipeline_arg
@click.option("--online", is_flag=True, help="Also connect to each source and sink and check what they need.")
@_env_file_opt
@_traceback_opt
def check(pipeline_file: Path, online: bool, env_file: Path | None, traceback: bool) -> None:
    """Build the pipeline without connecting anything, report every problem found, and print how it delivers."""
    checks: list[Problem] = []  # what the components' offline checks find
    pipeline = _configured(lambda: load(pipeline_file, env_file=env_file, checks=checks), traceback)
    plan, problems = _check_components(pipeline, online)
    # check_online often finds again what check found (a missing local file): say it once.
    problems = list(dict.fromkeys([*checks, *problems]))
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_CONFIG)
    assert plan is not None
    n = len(pipeline.validators)
    click.echo(
        f"{pipeline_file}: ok (pipeline {pipeline.name}: {type(pipeline.source).__name__} -> "
        f"{n} validator{'s' if n != 1 else ''} -> {type(pipeline.sink).__name__}"
        f"{', rejects to ' + type(pipeline.rejects).__name__ if pipeline.rejects is not None else ''})"
    )
    click.echo(f"delivery: {plan}")
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)


def _check_components(pipeline: Pipeline, online: bool) -> tuple[DeliveryPlan | None, list[Problem]]:
    """The delivery plan, and every problem found: in how the components fit together (a crash could lose
    records), and with ``online`` by the components themselves, by connecting."""
    problems: list[Problem] = []
    plan = None
    try:
        plan = pipeline.plan()
    except ConfigError as exc:
        problems += exc.problems
    components = [*pipeline.validators, pipeline.source, pipeline.sink, pipeline.rejects]
    for component in components:
        if not online or not isinstance(component, OnlineCheck):
            continue
        try:
            component.check_online()
        except ConfigError as exc:
            problems += pipeline.locate(component, exc).problems
        except Exception as exc:
            cannot = ConfigError(f"cannot connect: {exc}")
            problems += pipeline.locate(component, cannot).problems
    return plan, problems


@main.command(name="tap")
@_pipeline_arg
@click.option(
    "--after",
    required=True,
    metavar="VALIDATOR",
    help="The validator (its name, or its 0-based position) whose output to show.",
)
@click.option("--rejected", is_flag=True, help="Show the records rejected up to that stage, with their reasons.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after showing N records.")
@_idle_timeout_opt
@_env_file_opt
@_traceback_opt
def tap_command(
    pipeline_file: Path,
    after: str,
    rejected: bool,
    limit: int | None,
    idle_timeout: float | None,
    env_file: Path | None,
    traceback: bool,
) -> None:
    """Print the records leaving one validator, as JSON lines, without writing or committing anything."""
    # The sinks are not built: their variables (a database password) need not be set to watch the source.
    stages = _configured(lambda: load_stages(pipeline_file, env_file=env_file), traceback)
    _name_logs(stages)
    try:
        shown = tap(
            stages,
            after,
            lambda r: click.echo(record_json(r)),
            rejected=rejected,
            limit=limit,
            idle_timeout=idle_timeout,
        )
    except ConfigError as exc:
        _fail(exc, EXIT_CONFIG, traceback)
    except LmnhPipesError as exc:
        _fail(exc, EXIT_RUN_FAILED, traceback, prefix="tap failed: ")
    except Exception as exc:
        _fail(LmnhPipesError(f"{type(exc).__name__}: {exc}"), EXIT_RUN_FAILED, traceback, prefix="tap failed: ")
    click.echo(
        f"{shown} record{'s' if shown != 1 else ''} {'rejected' if rejected else 'accepted'} up to {after}", err=True
    )


@main.command(name="replay")
@_pipeline_arg
@click.option("--rule", "rules", multiple=True, metavar="RULE", help="Replay the rejects of this rule (repeatable).")
@click.option(
    "--validator",
    "validators",
    multiple=True,
    metavar="NAME",
    help="Replay the rejects of this validator (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Replay at most N rejects.")
@click.option(
    "--max-replays",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Pass over rejects that were replayed N times already.",
)
@click.option("--dry-run", is_flag=True, help="Write and change nothing; print what would be accepted.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_env_file_opt
@_traceback_opt
def replay_command(
    pipeline_file: Path,
    rules: tuple[str, ...],
    validators: tuple[str, ...],
    limit: int | None,
    max_replays: int | None,
    dry_run: bool,
    as_json: bool,
    env_file: Path | None,
    traceback: bool,
) -> None:
    """Run the stored rejects through the current validators; write those now accepted to the sink, once."""
    pipeline = _load(pipeline_file, env_file, traceback)
    _name_logs(pipeline)
    if pipeline.rejects is None:
        _fail(ConfigError(f"{pipeline_file}: the pipeline has no rejects sink: nothing to replay"), EXIT_CONFIG, False)
    try:
        report = pipeline.replay(
            rule=rules, validator=validators, limit=limit, max_replays=max_replays, dry_run=dry_run
        )
    except ConfigError as exc:
        _fail(exc, EXIT_CONFIG, traceback)
    except LmnhPipesError as exc:
        _fail(exc, EXIT_RUN_FAILED, traceback, prefix="replay failed: ")
    click.echo(json.dumps(report.to_dict()) if as_json else "\n".join(report.lines()))


@main.command(name="offsets")
@_pipeline_arg
@click.option(
    "--reset",
    metavar="earliest|latest|OFFSET",
    default=None,
    help="Move the positions to the low or the high watermark, or to an offset.",
)
@click.option(
    "--to-time",
    metavar="RFC3339",
    default=None,
    help="Move the positions to the first record at or after this time (2026-12-01T09:00:00+00:00).",
)
@click.option(
    "--partition", "partitions", multiple=True, type=click.IntRange(min=0), metavar="P", help="Only partition P."
)
@click.option("--dry-run", is_flag=True, help="Change nothing; print what would move.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_env_file_opt
@_traceback_opt
def offsets_command(
    pipeline_file: Path,
    reset: str | None,
    to_time: str | None,
    partitions: tuple[int, ...],
    dry_run: bool,
    as_json: bool,
    env_file: Path | None,
    traceback: bool,
) -> None:
    """Show each partition's stored position, watermarks and lag; or move the positions (never while the
    group has active members)."""
    target = _target(reset, to_time)
    if target is None and (partitions or dry_run):
        _fail(ConfigError("--partition and --dry-run go with --reset or --to-time"), EXIT_CONFIG, False)
    pipeline = _load(pipeline_file, env_file, traceback)
    _name_logs(pipeline)
    try:
        result = (
            show_offsets(pipeline) if target is None else move_offsets(pipeline, target, partitions, dry_run=dry_run)
        )
    except ConfigError as exc:
        _fail(exc, EXIT_CONFIG, traceback)
    except LmnhPipesError as exc:
        _fail(exc, EXIT_RUN_FAILED, traceback, prefix="offsets: ")
    click.echo(json.dumps(result.to_dict()) if as_json else "\n".join(result.lines()))


def _target(reset: str | None, to_time: str | None) -> Target | None:
    """Where ``--reset`` or ``--to-time`` moves the positions; exit 2 for both, or for a value neither takes."""
    if reset is not None and to_time is not None:
        _fail(ConfigError("give --reset or --to-time, not both"), EXIT_CONFIG, False)
    if to_time is not None:
        try:
            return parse_rfc3339(to_time)
        except TimestampError as exc:
            _fail(ConfigError(f"--to-time: {exc}"), EXIT_CONFIG, False)
    if reset is None:
        return None
    if reset == "earliest":
        return "earliest"
    if reset == "latest":
        return "latest"
    if not reset.isdigit():
        problem = f"--reset takes earliest, latest or an offset (0 or more), found {reset!r}"
        _fail(ConfigError(problem), EXIT_CONFIG, False)
    return int(reset)


@main.command(name="audit")
@_pipeline_arg
@click.option(
    "--from-time",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    help="Start each partition at its first record at or after this time (default: the smallest offset kept).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_env_file_opt
@_traceback_opt
def audit_command(
    pipeline_file: Path, from_time: datetime | None, as_json: bool, env_file: Path | None, traceback: bool
) -> None:
    """Prove that every offset read, up to the stored position, is one row or one reject: exit 0, else 1."""
    pipeline = _load(pipeline_file, env_file, traceback)
    _name_logs(pipeline)
    when = from_time if from_time is None or from_time.tzinfo else from_time.replace(tzinfo=UTC)
    try:
        report = pipeline.audit(from_time=when)
    except ConfigError as exc:
        _fail(exc, EXIT_CONFIG, traceback)
    except LmnhPipesError as exc:
        _fail(exc, EXIT_RUN_FAILED, traceback, prefix="audit failed: ")
    click.echo(json.dumps(report.to_dict()) if as_json else "\n".join(report.lines()))
    if not report.complete:
        sys.exit(EXIT_RUN_FAILED)


@main.command(name="test")
@click.argument("paths", nargs=-1, metavar="[PATH]...", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
def run_tests(paths: tuple[Path, ...], as_json: bool) -> None:
    """Run the cases of the *.test.yaml files under PATH (default: the working directory), in memory.

    Exit 0 when every case passed, 1 when one failed, 2 when a test file or its pipeline file is wrong."""
    try:
        registry = get_registry()
    except LmnhPipesError as exc:
        _fail(exc, EXIT_CONFIG, False)
    results = run_paths(
        paths or (Path("."),),
        registry,
        on_result=None if as_json else lambda r: click.echo("\n".join(r.lines())),
        on_problem=None if as_json else lambda p: click.echo(f"error: {p}", err=True),
    )
    click.echo(json.dumps(results.to_dict(), indent=2, default=json_default) if as_json else results.summary())
    sys.exit(results.exit_code)


def _name_logs(pipeline: Pipeline | Stages) -> None:
    ctx = click.get_current_context(silent=True)
    stamp = ctx.find_object(PipelineFilter) if ctx is not None else None
    if stamp is not None:
        stamp.pipeline = pipeline.name


@main.command()
@click.argument("type_name", metavar="[TYPE]", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(type_name: str | None, as_json: bool) -> None:
    """List every component type that can be used, and the distribution that provides it.

    With TYPE, describe that type: its kind, plug-in, summary, and each option with its type, default and one
    line.
    """
    try:
        registry = get_registry()
        described = describe_types(registry, type_name) if type_name is not None else []
    except LmnhPipesError as exc:
        _fail(exc, EXIT_CONFIG, False)
    width = shutil.get_terminal_size((100, 24)).columns
    if type_name is not None:
        if as_json:
            click.echo(json.dumps(described, indent=2, ensure_ascii=False))
        else:
            click.echo("\n\n".join(describe(d, width) for d in described))
        return
    rows: list[dict[str, Any]] = [
        {
            "type": t.name,
            "kind": t.kind,
            "plugin": t.plugin,
            "distribution": t.distribution,
            "version": t.version,
            "summary": t.summary,
        }
        for t in registry
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(list_types(registry, width))


@main.command()
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of a pipeline file, built from every installed component.

    Editors complete and check pipeline files with it: save it (lmnh-pipes schema > pipeline.schema.json) and
    point a file's "# yaml-language-server: $schema=..." line at it.
    """
    try:
        registry = get_registry()
    except LmnhPipesError as exc:
        _fail(exc, EXIT_CONFIG, False)
    click.echo(render(pipeline_schema(registry)), nl=False)


def _load(pipeline_file: Path, env_file: Path | None, show_traceback: bool) -> Pipeline:
    return _configured(lambda: load(pipeline_file, env_file=env_file), show_traceback)


def _configured(build: Callable[[], T], show_traceback: bool) -> T:
    """What ``build`` returns; exit 2 with its problems if it raises."""
    try:
        return build()
    except LmnhPipesError as exc:
        _fail(exc, EXIT_CONFIG, show_traceback)


def _fail(exc: LmnhPipesError, code: int, show_traceback: bool, prefix: str = "") -> NoReturn:
    if show_traceback:
        traceback.print_exception(exc)
    lines = [str(p) for p in exc.problems] if isinstance(exc, ConfigError) else [str(exc)]
    for line in lines:
        click.echo(f"error: {prefix}{line}", err=True)
    sys.exit(code)
