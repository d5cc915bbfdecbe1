"""``actorflow flows`` and ``actorflow resume``: the flows kept in a store.

A store is a SQLite file (``--store``, else ``$ACTORFLOW_STORE``, else
``.actorflow/store.sqlite``; ``--store memory`` keeps nothing). ``actorflow run`` hosts it
at ``/system/store`` for the scenario's flows; one process opens it at a time.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from actorflow.errors import ActorflowError, ConfigurationError
from actorflow.flow.human_store import ensure_durable_gateway
from actorflow.flow.stored import DEFAULT_STORE, MEMORY, STORE_ENV, acquire_store, release_store
from actorflow.scenarios import load_scenario
from actorflow.stores import Store, Synchronous, spawn_store

__all__ = [
    "DEFAULT_STORE_NAME",
    "MEMORY",
    "StoreOption",
    "SynchronousOption",
    "open_store",
    "register",
]

DEFAULT_STORE_NAME = str(DEFAULT_STORE)

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)

StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        envvar=STORE_ENV,
        help="The store: a SQLite file, or 'memory' to keep nothing.",
        show_default=True,
    ),
]
SynchronousOption = Annotated[
    Synchronous,
    typer.Option(help="SQLite's synchronous setting: what a commit survives (docs/stores.md)."),
]


def open_store(where: str, synchronous: Synchronous = Synchronous.NORMAL) -> Store:
    """Open the store ``where`` names (a SQLite file, created if missing, or ``memory``).

    Raises:
        StoreLockedError: another process has the file open.
        StoreError, StoreSchemaError: it cannot be opened, or is not an actorflow store.
    """
    return acquire_store(where, synchronous)


def flows(store: StoreOption = DEFAULT_STORE_NAME) -> None:
    """List the flows in the store: status, steps done / total, last change."""
    if store != MEMORY and not Path(store).exists():
        errors.print(
            f"[bold red]error:[/] no store at {escape(store)}. Run a scenario first "
            "(actorflow run FILE), or pass --store PATH."
        )
        raise typer.Exit(2)
    try:
        opened = open_store(store)
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    try:
        found = opened.list_flows()
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    finally:
        release_store(opened)
    if not found:
        console.print(f"No flows in {escape(store)}.")
        return
    table = Table(title=f"flows in {store}", title_justify="left")
    table.add_column("flow", overflow="fold")
    for column in ("status", "steps", "last change", "checkpoint"):
        table.add_column(column, no_wrap=True)
    colours = {"completed": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}
    for summary in found:
        colour = colours.get(summary.status, "white")
        changed = datetime.fromtimestamp(summary.updated_at).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            escape(summary.flow_id),
            f"[{colour}]{escape(summary.status)}[/]",
            f"{summary.steps_done}/{summary.steps_total}",
            changed,
            str(summary.version),
        )
    console.print(table)


def resume(
    flow_id: Annotated[str, typer.Argument(help="The flow to resume (see actorflow flows).")],
    scenario: Annotated[
        Path,
        typer.Option(help="The scenario whose create_flow(system) gives the flow its tools."),
    ],
    store: StoreOption = DEFAULT_STORE_NAME,
    synchronous: SynchronousOption = Synchronous.NORMAL,
) -> None:
    """Resume a stored flow from its last checkpoint; completed steps do not run again."""
    if store != MEMORY and not Path(store).exists():
        errors.print(f"[bold red]error:[/] no store at {escape(store)}. Pass --store PATH.")
        raise typer.Exit(2)
    try:
        loaded = load_scenario(scenario)
        if loaded.create_flow is None:
            raise ConfigurationError(
                f"Scenario {loaded.name!r} has no create_flow(system) function, so its "
                "flows cannot be resumed: define one that returns the EnhancedFlow with "
                "the scenario's tools."
            )
        opened = open_store(store, synchronous)
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    system = loaded.create_system()
    try:
        system.start()
        spawn_store(system, opened)
        ensure_durable_gateway(system)  # answers given while the run was down are there
        state = loaded.create_flow(system).resume_sync(flow_id)
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    finally:
        with contextlib.suppress(ActorflowError):
            system.shutdown(timeout=10.0)
        release_store(opened)
    status = state.status.value
    table = Table(title=f"flow {flow_id}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("status", status + (f": {escape(state.error)}" if state.error else ""))
    done = sum(1 for s in state.steps.values() if s.status.value == "completed")
    table.add_row("steps completed", f"{done}/{len(state.steps)}")
    console.print(table)
    if status != "completed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``flows`` and ``resume`` to ``app``."""
    app.command(name="flows")(flows)
    app.command(name="resume")(resume)
