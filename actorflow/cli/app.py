"""``actorflow`` commands: ``run`` a scenario with live output, ``flows``, ``resume``,
``pending``, ``answer``, ``log``, ``--version``."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from loguru import logger
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from actorflow._version import __version__
from actorflow.cli.human import ensure_durable_gateway
from actorflow.cli.human import register as register_human_commands
from actorflow.cli.live import LiveView
from actorflow.cli.liveflows import FlowRecord
from actorflow.cli.log import log_app
from actorflow.cli.logs import configure_logging
from actorflow.cli.stores import (
    DEFAULT_STORE_NAME,
    MEMORY,
    StoreOption,
    SynchronousOption,
    open_store,
)
from actorflow.cli.stores import register as register_store_commands
from actorflow.errors import ActorflowError, ConfigurationError, ShutdownTimeoutError
from actorflow.flow.stored import release_store
from actorflow.journal import Durability, JournalConfig
from actorflow.runtime.cell import safe_text
from actorflow.runtime.stats import SystemStatistics
from actorflow.runtime.system import SYSTEM_PATH, ActorSystem
from actorflow.scenarios import Scenario, load_scenario
from actorflow.stores import Store, Synchronous, spawn_store
from actorflow.streams import Subscription, subscribe

__all__ = ["app", "main"]

app = typer.Typer(
    name="actorflow",
    help="Run multi-agent scenarios on the actorflow actor runtime.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(log_app, name="log")
register_store_commands(app)
register_human_commands(app)
console = Console(highlight=False, soft_wrap=True)
_SHUTDOWN_TIMEOUT = 10.0
"""Most seconds the actors get to stop after the scenario (never more than --timeout)."""
_STOPPED_GRACE = 5.0
"""Seconds main(system) gets to return once the actor system has stopped on its own."""
_STREAMS_GRACE = 2.0
"""Most seconds the view waits, once main(system) returned, for the last events of flows
still running and for its subscription to hand over what is queued."""
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"actorflow {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """actorflow: supervised actors, typed messages, replayable runs."""


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Scenario file, e.g. scenarios/ping_pong.py.")],
    messages: Annotated[
        bool, typer.Option("--messages", "-m", help="Also show every message delivered.")
    ] = False,
    system_messages: Annotated[
        bool,
        typer.Option("--system-messages", help="Show every message, supervision traffic included."),
    ] = False,
    steps: Annotated[
        bool,
        typer.Option("--steps", help="Also a line per flow step started and completed."),
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Give up if the scenario takes longer (seconds).", min=0.1)
    ] = 300.0,
    runs_dir: Annotated[
        Path, typer.Option(help="Where each run gets a folder with its log.")
    ] = Path(".actorflow/runs"),
    log_level: Annotated[
        str | None, typer.Option(help="Also print actorflow logs at this level to stderr.")
    ] = None,
    journal: Annotated[
        bool, typer.Option("--journal/--no-journal", help="Write the message log (journal).")
    ] = True,
    durability: Annotated[
        Durability, typer.Option(help="When journal writes are fsynced.")
    ] = Durability.BATCH,
    store: StoreOption = DEFAULT_STORE_NAME,
    synchronous: SynchronousOption = Synchronous.NORMAL,
) -> None:
    """Run a scenario: show what happens live (each flow's steps: retries, timeouts,
    skipped, degraded and failed steps), then a summary with a row per flow. Exits 1 when
    the scenario or any flow failed or was cancelled. Its flows are kept in the store (at
    /system/store), so they can be listed and resumed, and so are its human requests
    (actorflow pending). Arguments after the file that are not options of run go to the
    scenario's configure(args), e.g. `actorflow run scenarios/interactive_approval.py
    --interactive`."""
    try:
        level = _check_log_level(log_level)
        scenario = load_scenario(path)
        scenario.configure(ctx.args)
        opened = open_store(store, synchronous)
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    try:
        _run(scenario, opened, store, messages=messages, system_messages=system_messages,
             steps=steps, timeout=timeout, runs_dir=runs_dir, level=level, journal=journal,
             durability=durability)  # fmt: skip
    finally:
        release_store(opened)


def _run(
    scenario: Scenario,
    opened: Store,
    store: str,
    *,
    messages: bool,
    system_messages: bool,
    steps: bool,
    timeout: float,
    runs_dir: Path,
    level: str | None,
    journal: bool,
    durability: Durability,
) -> None:
    try:
        system = _create_system(scenario)
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    run_dir = runs_dir / system.run_id
    journal_path = run_dir / "journal"
    if journal:
        config = JournalConfig(
            path=journal_path, durability=durability, entry_point=str(scenario.path)
        )
        system.use_journal(config)
    configure_logging(run_dir / "actorflow.log", level)
    # --system-messages implies --messages (it widens what --messages shows).
    view = LiveView(console, show_messages=messages or system_messages,
                    show_system=system_messages, show_steps=steps)  # fmt: skip
    system.subscribe(view.on_event)
    system.add_tap(view.on_delivery)
    console.rule(f"[bold]{scenario.title}")
    console.print(f"[dim]{scenario.path}  run {system.run_id}[/]")
    outcome = _Outcome()
    started = time.monotonic()
    streams = _start(system, opened, view)
    with view.showing_progress():
        _watch(scenario, system, outcome, view, started, timeout)
        _catch_up(view, streams, outcome, min(_STREAMS_GRACE, timeout))
    stats = system.statistics()
    try:
        # Bounded by --timeout too, so a hung handler cannot hold the run for long.
        system.shutdown(timeout=min(_SHUTDOWN_TIMEOUT, timeout))
    except ShutdownTimeoutError as exc:
        outcome.shutdown_error = str(exc)
    view.drain(timeout=0)
    view.flows.close()
    outcome.flow_problems = view.flows.problems()
    if system.pending_error is not None:
        outcome.system_error = f"the actor system stopped because {system.stop_reason}"
    elapsed = time.monotonic() - started
    if view.flows.shown:
        console.print(view.flows.summary(console.width))
    _summary(scenario, outcome, stats, system.dead_letters.counts(), view, elapsed)
    if journal:
        console.print(f"journal: {journal_path}  [dim](actorflow log show {journal_path})[/]")
    console.print(f"[dim]log: {run_dir / 'actorflow.log'}[/]")
    if store != MEMORY:
        console.print(f"[dim]store: {store}  (actorflow flows --store {store})[/]")
    if outcome.interrupted:
        raise typer.Exit(130)
    if outcome.failed:
        raise typer.Exit(1)


def _watch(
    scenario: Scenario,
    system: ActorSystem,
    outcome: _Outcome,
    view: LiveView,
    started: float,
    timeout: float,
) -> None:
    """Run ``main`` on its own thread and print what happens until it returns, the
    timeout passes, or the system stopped on its own and ``main`` has not returned soon
    after."""
    # A daemon thread: a scenario still running past --timeout must not keep the process.
    worker = threading.Thread(
        target=outcome.run, args=(scenario, system), name="scenario", daemon=True
    )
    worker.start()
    give_up = started + timeout
    try:
        while worker.is_alive() and time.monotonic() < give_up:
            if not system.is_running:  # let main see the stop and return, briefly
                give_up = min(give_up, time.monotonic() + _STOPPED_GRACE)
            view.drain(timeout=0.05)
    except KeyboardInterrupt:
        outcome.interrupted = True
        outcome.error = "interrupted (Ctrl-C)"
        return
    if worker.is_alive():
        outcome.error = (
            f"the scenario did not finish within {timeout:g} s"
            if system.is_running
            else f"main(system) did not return within {_STOPPED_GRACE:g} s of the actor "
            "system stopping"
        )


def _start(system: ActorSystem, opened: Store, view: LiveView) -> Subscription:
    """Start the system with its store; subscribe ``view`` to the stream events."""
    try:
        system.start()
        spawn_store(system, opened)
        # Human requests are kept in the store: `actorflow pending` lists them, and
        # `actorflow answer` answers them while the run is down.
        ensure_durable_gateway(system)
        # Before main runs, so every flow's first event is seen. The subscriber actor
        # only queues the events: the CLI thread prints them.
        streams = subscribe(system, view.on_stream, inline=True)  # it only queues them
    except ActorflowError as exc:  # e.g. the journal cannot be opened
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        if system.is_running:
            system.shutdown(timeout=_SHUTDOWN_TIMEOUT)
        raise typer.Exit(2) from None
    view.quiet_paths.add(f"{SYSTEM_PATH}/{streams.name}")
    return streams


def _catch_up(view: LiveView, streams: Subscription, outcome: _Outcome, grace: float) -> None:
    """Show the flows' last events: those of flows still running once main returned (a
    flow tells the hub its last event before it answers main), then what is queued."""
    deadline = time.monotonic() + grace
    try:
        if outcome.error is None and not outcome.interrupted:  # main returned: they end now
            view.wait_flows(grace)
        streams.wait_caught_up(max(0.0, deadline - time.monotonic()))
        view.drain(timeout=0)
    except KeyboardInterrupt:
        outcome.interrupted = True
        outcome.error = outcome.error or "interrupted (Ctrl-C)"


class _Outcome:
    def __init__(self) -> None:
        self.result: Mapping[str, object] | None = None
        self.error: str | None = None
        """Why main(system) failed."""
        self.system_error: str | None = None
        """Why the system stopped on its own, if main never saw it."""
        self.shutdown_error: str | None = None
        self.flow_problems: list[str] = []
        """A sentence per flow that failed, was cancelled or did not finish."""
        self.interrupted = False

    @property
    def failed(self) -> bool:
        return any((self.error, self.system_error, self.shutdown_error, self.flow_problems))

    @property
    def problem(self) -> str | None:
        """Why the run failed (the first reason), if it did."""
        problem = self.error or self.system_error or self.shutdown_error
        if problem is None and self.flow_problems:
            problem = "; ".join(self.flow_problems)
        return problem

    def run(self, scenario: Scenario, system: ActorSystem) -> None:
        try:
            result: object = scenario.main(system)
        except BaseException as exc:  # noqa: BLE001 - reported in the summary, exit code 1
            # SystemExit and KeyboardInterrupt too: this thread cannot end the process, and
            # a scenario that asks to exit has not completed.
            logger.opt(exception=exc).error("Scenario {name} failed", name=scenario.name)
            self.error = f"{_describe(exc)} (the traceback is in the log)"
            return
        if result is not None and not isinstance(result, Mapping):
            self.error = (
                f"main(system) returned {type(result).__name__}; return a dict of results "
                "(or None)."
            )
            return
        self.result = result


def _describe(exc: BaseException) -> str:
    text = safe_text(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _summary(
    scenario: Scenario,
    outcome: _Outcome,
    stats: SystemStatistics,
    dead: Mapping[str, int],
    view: LiveView,
    elapsed: float,
) -> None:
    table = Table(title=f"{scenario.name}: summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    problem = outcome.problem
    status = "[red]failed[/]" if problem else "[green]completed[/]"
    table.add_row("status", status + (f": {escape(problem)}" if problem else ""))
    if outcome.system_error and outcome.system_error != problem:
        table.add_row("system", f"[red]{escape(outcome.system_error)}[/]")
    if outcome.shutdown_error and outcome.shutdown_error != problem:
        table.add_row("shutdown", f"[red]{escape(outcome.shutdown_error)}[/]")
    flows = view.flows.shown
    if flows and outcome.flow_problems and "; ".join(outcome.flow_problems) != problem:
        table.add_row("flows failed", f"[red]{escape('; '.join(outcome.flow_problems))}[/]")
    if view.gave_up:
        table.add_row("stopped for good", f"[red]{escape(', '.join(view.gave_up))}[/]")
    table.add_row("time", f"{elapsed:.3f} s")
    table.add_row("messages", str(view.counts["messages"]))
    table.add_row("processed", str(stats.processed))
    table.add_row("spawned", str(view.counts["lifecycle.spawned"]))
    if flows:
        table.add_row("flows", _flow_counts(flows))
    table.add_row("actor failures", str(view.counts["lifecycle.failed"]))
    table.add_row("actor restarts", str(view.counts["lifecycle.restarted"]))
    table.add_row("dead letters", ", ".join(f"{k}: {v}" for k, v in sorted(dead.items())) or "0")
    for key, value in (outcome.result or {}).items():
        table.add_row(escape(f"result: {key}"), escape(str(value)))
    console.print(table)


def _flow_counts(flows: list[FlowRecord]) -> str:
    """How many flows ended how: ``2 (1 completed, 1 failed)``."""
    statuses = Counter(record.status for record in flows)
    parts = ", ".join(f"{count} {status}" for status, count in statuses.items())
    return f"{len(flows)} ({parts})"


def _check_log_level(level: str | None) -> str | None:
    if level is None:
        return None
    try:
        return logger.level(level.upper()).name
    except ValueError:
        raise ConfigurationError(
            f"Unknown log level {level!r}. Use one of TRACE, DEBUG, INFO, SUCCESS, WARNING, "
            "ERROR, CRITICAL."
        ) from None


def _create_system(scenario: Scenario) -> ActorSystem:
    try:
        made: object = scenario.create_system()
    except ActorflowError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"Scenario {scenario.name!r}: create_system() failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(made, ActorSystem):
        raise ConfigurationError(
            f"Scenario {scenario.name!r}: create_system() returned {type(made).__name__}, not "
            "an ActorSystem. Return ActorSystem(...) with the options the scenario needs."
        )
    if not made.is_new:
        with contextlib.suppress(ActorflowError):
            made.shutdown(timeout=5.0)  # release what it holds before reporting
        raise ConfigurationError(
            f"Scenario {scenario.name!r}: create_system() returned an actor system that has "
            "already started; return it unstarted (actorflow run starts it, with its journal)."
        )
    return made


def main() -> None:
    """Entry point of the ``actorflow`` console script."""
    app()
