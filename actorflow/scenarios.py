"""Scenario files: runnable scripted runs that are examples, demos and end-to-end tests.

A scenario is a Python file that defines::

    def main(system: ActorSystem) -> Mapping[str, object] | None:
        ...  # spawn actors, send messages, wait for the outcome; return a summary

(or ``async def main(system)``, run with ``asyncio.run`` on the scenario's own thread,
so it can ``await system.ask_async(...)`` and flows) and optionally
``create_system() -> ActorSystem`` (an unstarted system with the options the scenario
needs; default ``ActorSystem()``), ``create_flow(system) -> EnhancedFlow`` (the flow
with the scenario's tools, so ``actorflow resume`` can go on with its stored flows) and
``configure(args: list[str]) -> None`` (takes the scenario's own command-line arguments,
``actorflow run FILE ARG...``, before anything runs). The module docstring's first line
is its title. ``actorflow run FILE`` runs it with live output.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast, final

from actorflow.errors import ConfigurationError
from actorflow.runtime.system import ActorSystem

__all__ = ["Scenario", "load_scenario"]

ScenarioMain = Callable[[ActorSystem], Mapping[str, object] | None]
AsyncScenarioMain = Callable[[ActorSystem], Awaitable[Mapping[str, object] | None]]


@final
@dataclass(frozen=True, slots=True)
class Scenario:
    """A loaded scenario file."""

    path: Path
    name: str
    title: str
    main: ScenarioMain
    """Runs the scenario's ``main`` to completion (an ``async def main`` on a new event loop)."""
    create_system: Callable[[], ActorSystem]
    is_async: bool = False
    """Whether the file's ``main`` is a coroutine function."""
    create_flow: Callable[[ActorSystem], Any] | None = None
    """The file's ``create_flow(system)``: its flow with its tools (for resuming)."""
    configure_hook: Callable[[list[str]], None] | None = None
    """The file's ``configure(args)``, if it takes arguments."""

    def configure(self, args: Sequence[str]) -> None:
        """Hand the scenario its own command-line arguments (before it runs; also none,
        so a scenario run again in one process starts from its defaults).

        Raises:
            ConfigurationError: it takes none, or refuses these.
        """
        if self.configure_hook is None:
            if not args:
                return
            raise ConfigurationError(
                f"Scenario {self.name!r} takes no arguments, got {' '.join(args)!r}. Define "
                "'def configure(args: list[str]) -> None' in it to take some."
            )
        try:
            self.configure_hook(list(args))
        except ConfigurationError:
            raise
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code; argparse exits
            raise ConfigurationError(
                f"Scenario {self.name!r} refused the arguments {' '.join(args)!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from None


def load_scenario(path: str | Path) -> Scenario:
    """Import the scenario file at ``path`` (once per process) and return it.

    Raises:
        ConfigurationError: the file is missing, not Python, fails to import, or has
            no ``main(system)`` function.
    """
    file = Path(path).resolve()
    if not file.exists():
        raise ConfigurationError(
            f"Scenario {str(path)!r} does not exist. Pass a path such as scenarios/ping_pong.py."
        )
    if not file.is_file() or file.suffix != ".py":
        raise ConfigurationError(
            f"Scenario {str(path)!r} is not a Python file. Pass a path such as "
            "scenarios/ping_pong.py."
        )
    module = _import(file)
    main = getattr(module, "main", None)
    if not callable(main) or len(inspect.signature(main).parameters) != 1:
        raise ConfigurationError(
            f"Scenario {str(path)!r} has no main(system) function. Define "
            "'def main(system: ActorSystem) -> dict | None' (or 'async def main(system)')."
        )
    create = getattr(module, "create_system", ActorSystem)
    doc = (module.__doc__ or file.stem).strip().splitlines()[0]
    is_async = inspect.iscoroutinefunction(main)
    create_flow = getattr(module, "create_flow", None)
    configure = getattr(module, "configure", None)
    return Scenario(
        path=file,
        name=file.stem,
        title=doc,
        main=_run_async(main) if is_async else cast("ScenarioMain", main),
        create_system=cast("Callable[[], ActorSystem]", create),
        is_async=is_async,
        create_flow=create_flow if callable(create_flow) else None,
        configure_hook=configure if callable(configure) else None,
    )


def _run_async(main: AsyncScenarioMain) -> ScenarioMain:
    def run(system: ActorSystem) -> Mapping[str, object] | None:
        async def call() -> Mapping[str, object] | None:
            return await main(system)

        return asyncio.run(call())

    return run


def _import(file: Path) -> ModuleType:
    # One module per file and process: importing twice would define its message
    # classes twice, and their kind tags must name one class.
    name = f"actorflow_scenario_{abs(hash(str(file))):x}_{file.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"Cannot import scenario {str(file)!r}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigurationError(
            f"Scenario {str(file)!r} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    return module
