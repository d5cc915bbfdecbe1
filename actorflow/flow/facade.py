"""The seed's flow facade: EnhancedFlow and its factories.

``execute(plan)`` validates the plan, spawns a flow actor under ``/flows/<flow_id>``
and waits for it without blocking the event loop. A facade owns an actor system
(started on first use, stopped by :meth:`EnhancedFlow.close`) or attaches to one
the application passes in. Every async method has a ``*_sync`` twin for scripts;
the twins run the same coroutine.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from actorflow._trusted import trusted
from actorflow.errors import (
    ActorNameTakenError,
    AskTimeoutError,
    ConfigurationError,
    DeliveryFailedError,
    FlowError,
    StepResultError,
)
from actorflow.flow.asking import AttemptScopedHuman
from actorflow.flow.checkpoint import resume_data
from actorflow.flow.executor import EnhancedFlowExecutor
from actorflow.flow.human import IHumanCallback
from actorflow.flow.human_store import ensure_durable_gateway
from actorflow.flow.launcher import is_default_executor
from actorflow.flow.messages import CancelFlow, FlowFinished, PlanChanged, ReplanFlow, RunFlow
from actorflow.flow.models import FlowConfig, FlowPlan, FlowState, create_default_config
from actorflow.flow.outcomes import strict_json
from actorflow.flow.planner import EnhancedFlowPlanner, IFlowPlanner
from actorflow.flow.runner import FlowRunner
from actorflow.flow.state import SqliteMemoryManager
from actorflow.flow.steps import FlowServices
from actorflow.flow.stored import (
    StoredFlow,
    acquire_store,
    claim_flow,
    default_store,
    has_store,
    load_stored_flow,
    release_store,
)
from actorflow.flow.streamed import FlowStreams
from actorflow.flow.validation import validate_plan
from actorflow.human.outside import ensure_human_gateway
from actorflow.ids import child_path
from actorflow.messages import EffectRecorded, freeze
from actorflow.runtime.behaviour import recipe
from actorflow.runtime.cell import Cell
from actorflow.runtime.supervision import RestartType
from actorflow.runtime.system import FLOWS_PATH, ActorSystem
from actorflow.stores import SqliteStore, Store, spawn_store
from actorflow.streams import streams_of

__all__ = ["EnhancedFlow", "create_enhanced_flow", "create_interactive_flow"]

T = TypeVar("T")
_WAIT_FOREVER = 7 * 24 * 3600.0


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise ConfigurationError(
            "A *_sync flow method was called inside a running event loop; await the async "
            "method instead (for example 'await flow.execute(plan)')."
        )
    # The result leaves through a box, not as the main task's result: on Python 3.11
    # asyncio.run's SIGINT bookkeeping formats repr(task) twice when it ends (through
    # signal.getsignal), and a finished task's repr includes its result, so a 100-step
    # FlowState was rendered twice per call (about 2 ms, half of the calling thread's time).
    box: list[T] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]


def _context_json(context: dict[str, Any] | None) -> dict[str, Any]:
    """The context of ``execute`` as JSON data (it is journaled and checkpointed)."""
    if not context:
        return cast("dict[str, Any]", freeze({}))
    if not isinstance(context, dict):
        raise ConfigurationError(
            f"The context of a flow must be a dict of JSON data, not {type(context).__name__}."
        )
    try:
        data = strict_json(context, where="The flow's context")
    except StepResultError as exc:
        raise ConfigurationError(str(exc).replace("Return JSON data", "Pass JSON data")) from None
    assert isinstance(data, dict)
    return cast("dict[str, Any]", freeze(data))


class EnhancedFlow(FlowStreams):
    """Plans and runs flows as actors.

    Stream callbacks, event listeners and ``stream_execute`` come from
    :class:`~actorflow.flow.streamed.FlowStreams`.

    Args:
        mcp_client: used by ``mcp_tool`` steps for tools not registered in-process
            (an :class:`actorflow.mcp.MCPClient`, or anything with ``async
            call_tool(name, arguments)``); the default planner plans over the tools it
            lists (``async list_tools()``). Each call is journaled as an ``mcp`` effect.
        system: an actor system to attach to (embedding); default: the facade owns one.
        config: flow options (default: ``create_default_config()``).
        executor: runs steps (default: ``EnhancedFlowExecutor``); ``flow.executor`` is
            assignable, and so are ``flow.executor.state_manager`` / ``memory_manager``.
        planner: makes plans (default: the deterministic ``EnhancedFlowPlanner``).
        store: where the facade's own actor system keeps flows (a SQLite file path,
            ``"memory"``, or a :class:`~actorflow.stores.Store`); default: none, and
            checkpoints go to ``executor.state_manager`` only. With a SQLite store, flow
            memory goes there too (``executor.memory_manager``, unless one was given).
            An attached system keeps flows in the store actor it hosts at
            ``/system/store``, if any.

    Raises:
        ConfigurationError: ``store`` is given together with an attached ``system``.
    """

    def __init__(
        self,
        mcp_client: Any = None,
        *,
        system: ActorSystem | None = None,
        config: FlowConfig | None = None,
        executor: EnhancedFlowExecutor | None = None,
        planner: IFlowPlanner | None = None,
        store: Store | str | None = None,
    ) -> None:
        if store is not None and system is not None:
            raise ConfigurationError(
                "EnhancedFlow got both a system and a store: the application's system keeps "
                "flows in the store actor it hosts (actorflow.stores.spawn_store)."
            )
        super().__init__()
        self._store_spec = store
        self._store: Store | None = None
        self.current_plan: FlowPlan | None = None
        """The plan last planned or run (what ``stream_execute()`` runs by default)."""
        self.config = config or create_default_config()
        self.executor = executor or EnhancedFlowExecutor(mcp_client)
        self._default_memory = self.executor.memory_manager
        self._default_state = self.executor.state_manager
        self.agents: dict[str, list[str]] = {}
        self.planner: IFlowPlanner = planner or EnhancedFlowPlanner(
            self.executor.tools, self.agents, mcp_client=self.executor.mcp_client
        )
        self.human_callback: IHumanCallback | None = None
        self._system = system
        self._owns_system = system is None
        self._last_flow_id: str | None = None
        self._running: set[str] = set()
        """Flows this facade started and waits for."""
        self._finishing: dict[str, Cell | None] = {}
        """Actors of flows that replied, by flow id, until they are seen stopped."""
        self._initialized = False

    @property
    def system(self) -> ActorSystem:
        """The actor system flows run in (started on first use if the facade owns it)."""
        if self._system is None:
            spec = self._store_spec
            # The store first: if it cannot be opened, no actor system is left behind.
            store = acquire_store(spec) if isinstance(spec, str) else spec
            system = ActorSystem().start()
            try:
                if store is not None:
                    spawn_store(system, store)
                    ensure_durable_gateway(system)  # its human requests survive a restart
            except BaseException:
                system.shutdown()
                if isinstance(spec, str) and store is not None:
                    release_store(store)
                raise
            self._store = store
            if (
                isinstance(store, SqliteStore)
                and self.executor.memory_manager is self._default_memory
            ):  # flow memory in the store too, unless the caller chose a manager
                self.executor.memory_manager = SqliteMemoryManager(store)
            self._system = system
        return self._system

    async def initialize(self, config: FlowConfig | None = None) -> None:
        """Set the flow options (and start the owned actor system)."""
        if config is not None:
            self.config = config
        _ = self.system
        self._initialized = True

    def register_tool(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        description: str = "",
        replace: bool = False,
        inline: bool = False,
    ) -> None:
        """Register an in-process tool that ``mcp_tool`` steps and the planner can use.

        A sync tool runs in the effects thread pool; ``inline=True`` runs one that never
        blocks on the event loop instead (see :meth:`ToolRegistry.register`).
        """
        self.executor.tools.register(
            name, fn, description=description, replace=replace, inline=inline
        )

    def register_agent(self, path: str, capabilities: list[str]) -> None:
        """Let the planner send tasks matching ``capabilities`` to the agent actor at ``path``."""
        self.agents[path] = list(capabilities)

    def set_human_callback(self, callback: IHumanCallback) -> None:
        """Answer ``human_input`` steps with ``callback``."""
        self.human_callback = callback

    def _services(self) -> FlowServices:
        callback = self.human_callback if self.config.enable_human_callbacks else None
        handler = None
        if callback is not None and self.config.human_gateway:
            handler = self.stream_topic  # this facade's name at the gateway
            ensure_human_gateway(self.system).register(handler, AttemptScopedHuman(callback))
        return FlowServices(
            tools=self.executor.tools,
            mcp_client=self.executor.mcp_client,
            human_callback=callback,
            human_timeout=self.config.human_timeout,
            human_handler=handler,
            record_effect=self._record_effect,
        )

    def _record_effect(self, flow_id: str, effect: str, name: str, value: Any) -> None:
        """Journal a value a step got from outside (an MCP call) as an effect of the
        flow's actor (any thread)."""
        system = self._system
        if system is not None:
            path = child_path(FLOWS_PATH, flow_id)
            system.emit(EffectRecorded(actor=path, effect=effect, name=name, value=value))

    async def plan(self, goal: str, context: dict[str, Any] | None = None) -> FlowPlan:
        """Return a plan for ``goal`` from the planner (a WORKFLOW ``plan_created``
        stream event tells it)."""
        plan = await self.planner.create_plan(goal, dict(context or {}))
        self._plan_created(plan)
        return plan

    async def execute(self, plan: FlowPlan, context: dict[str, Any] | None = None) -> FlowState:
        """Validate ``plan``, run it as a flow actor, and return its final state.

        Raises:
            FlowDefinitionError: the plan is invalid (nothing ran).
        """
        return await self._run(plan, None, context)

    async def _run(
        self,
        plan: FlowPlan,
        resume_from: FlowState | None,
        context: dict[str, Any] | None,
        stored: StoredFlow | None = None,
    ) -> FlowState:
        spec = plan.freeze(default_max_retries=self.config.default_max_retries)
        services = self._services()
        system = self.system
        order = validate_plan(spec, services, system=system)
        self.current_plan = plan
        # An earlier actor of this flow id may still be storing its end: let it finish.
        await self._wait_path_free(system, spec.id)
        stored_version = 0 if stored is None else stored.version
        if stored is None and resume_from is None and has_store(system):
            stored_version = await self._stored_version(system, spec.id)
        config = cast("dict[str, Any]", freeze(self.config.model_dump(mode="json")))
        seed = self.config.random_seed
        # Built without validation: the plan was frozen just now (its JSON data copied from
        # the caller's), the context copied by _context_json, the config dumped as JSON,
        # so no field is shared with the caller and none can change after sending.
        run = trusted(
            RunFlow,
            plan=spec,
            order=order,
            context=_context_json(context),
            config=config,
            seed=random.randrange(2**31) if seed is None else seed,
            inline=is_default_executor(self.executor),
            resume=None if resume_from is None else resume_data(resume_from),
            snapshot=None if stored is None else stored.core.to_json(),
            snapshot_version=stored_version,
        )
        mirror = self.executor.state_manager is not self._default_state  # the caller's own
        interval = self.config.checkpoint_interval
        topic = self._expect(spec.id, plan, spec)
        if topic is not None:
            streams_of(system)  # the hub, so that the flow's events have somewhere to go
        runner = recipe(FlowRunner, self.executor, services, interval, mirror=mirror, topic=topic)
        try:
            claim = claim_flow(self._store, spec.id)
        except BaseException:
            self._forget(spec.id)
            raise
        try:
            try:
                path = system.spawn(
                    runner, spec.id, parent=FLOWS_PATH, restart=RestartType.TEMPORARY,
                    dispatcher="loop",
                )  # fmt: skip
            except ActorNameTakenError:
                self._forget(spec.id)
                raise FlowError(
                    f"Flow {spec.id!r} is running already in this actor system; wait for "
                    "it to end before running or resuming it."
                ) from None
            cell = system.cell_at(path)
            self._finishing[spec.id] = cell  # a later run of this id waits for it to stop
            self._last_flow_id = spec.id
            limit = self.config.flow_timeout
            timeout = min(limit * 2, _WAIT_FOREVER) if limit else _WAIT_FOREVER
            self._running.add(spec.id)
            try:
                reply = await system.ask_async(path, run, timeout=timeout)
            except (AskTimeoutError, asyncio.CancelledError):
                # The caller stopped waiting (a timeout, or its task was cancelled): so does
                # the flow.
                system.tell(path, CancelFlow(reason="the caller stopped waiting for the flow"))
                raise
            finally:
                self._running.discard(spec.id)
        finally:
            claim.release()
        assert isinstance(reply, FlowFinished)
        return FlowState.model_validate({**reply.state, "plan": spec})

    async def _stored_version(self, system: ActorSystem, flow_id: str) -> int:
        """The store's version of a flow about to run anew under ``flow_id`` (0: none):
        an ended flow of that id is replaced, one stored as running is not.

        Raises:
            FlowError: the store holds the flow as running (a crashed run: resume it).
        """
        existing = await load_stored_flow(system, flow_id)
        if existing is None:
            return 0
        if existing.core.is_running:
            raise FlowError(
                f"The store holds flow {flow_id!r} as running (its process stopped before "
                f"it ended). Resume it with flow.resume({flow_id!r}), or run the plan under "
                "a new id."
            )
        return existing.version

    async def _wait_path_free(self, system: ActorSystem, flow_id: str) -> None:
        if flow_id in self._running:
            raise FlowError(
                f"Flow {flow_id!r} is running already (started by this EnhancedFlow); wait "
                "for it to end before running or resuming it."
            )
        await self._wait_stopped(system, flow_id)

    async def _wait_stopped(self, system: ActorSystem, flow_id: str) -> None:
        """The actor of a flow that ran before under this id stops right after replying:
        before the id is used again, let it release its path (waited for only then, so
        that finishing flows cost no thread hop each)."""
        for done in [k for k, c in self._finishing.items() if c is None or c.terminated.is_set()]:
            del self._finishing[done]
        cell = self._finishing.pop(flow_id, None)
        if cell is not None and not cell.terminated.is_set():
            await asyncio.get_running_loop().run_in_executor(None, cell.terminated.wait, 10.0)

    async def get_state(self, flow_id: str | None = None) -> FlowState | None:
        """Return the latest checkpoint of ``flow_id`` (default: the last flow run), from
        the system's store if it has one, else from ``executor.state_manager``.

        Raises:
            CheckpointRejectedError: the stored checkpoint cannot be trusted.
        """
        target = flow_id or self._last_flow_id
        if target is None:
            return None
        if has_store(self.system):
            stored = await load_stored_flow(self.system, target)
            return None if stored is None else stored.flow_state()
        return await self.executor.state_manager.load_state(target)

    async def resume(self, flow_id: str | None = None) -> FlowState:
        """Run a flow on from its last checkpoint; completed steps are not run again.

        With a store, the flow goes on exactly where it was: attempts under way run again
        under their own numbers (so with the same idempotency keys), retry counts and
        deadlines are kept. A flow that already ended is not run: its final state is
        returned.

        Raises:
            FlowError: there is no checkpoint (or no plan in it) for the flow.
            CheckpointRejectedError: the stored checkpoint cannot be trusted.
        """
        target = flow_id or self._last_flow_id
        if target is not None and has_store(self.system):
            await self._wait_path_free(self.system, target)  # an ended run storing its end
            stored = await load_stored_flow(self.system, target)
            if stored is None:
                raise FlowError(
                    f"The store has no checkpoint of flow {target!r}; it cannot be resumed. "
                    "List the stored flows with 'actorflow flows'."
                )
            if not stored.core.is_running:
                return stored.flow_state()
            plan = stored.core.spec.plan.thaw()
            return await self._run(plan, None, dict(stored.core.spec.context), stored)
        state = None if target is None else await self.executor.state_manager.load_state(target)
        if state is None or state.plan is None:
            raise FlowError(
                f"No checkpoint with a plan for flow {target!r}; it cannot be resumed. "
                "Check the flow id and the state manager."
            )
        context = state.metadata.get("context")
        return await self._run(
            state.plan.thaw(), state, context if isinstance(context, dict) else None
        )

    async def update_plan(self, plan: FlowPlan, flow_id: str | None = None) -> None:
        """Let a running flow go on by ``plan``, a new version of its plan.

        Completed steps and attempts under way are kept where ``plan`` has the same step
        (with the same dependencies); other steps start afresh; attempts of steps it
        changed or dropped are cancelled. ``plan.id`` must be the flow's id and
        ``plan.version`` above the running plan's (``replan`` gives such a plan).

        Raises:
            FlowDefinitionError: ``plan`` is invalid (the flow goes on unchanged).
            FlowError: the flow is not running, or refused the plan (the reason says why).
        """
        target = flow_id or plan.id
        if plan.id != target:
            raise FlowError(f"The plan's id {plan.id!r} is not the flow's ({target!r}).")
        spec = plan.freeze(default_max_retries=self.config.default_max_retries)
        system = self.system
        order = validate_plan(spec, self._services(), system=system)
        path = child_path(FLOWS_PATH, target)
        gone = FlowError(f"Flow {target!r} is not running here; a new plan cannot change it.")
        if system.cell_at(path) is None:
            raise gone
        try:
            reply = await system.ask_async(path, ReplanFlow(plan=spec, order=order), timeout=30.0)
        except DeliveryFailedError:  # its actor stopped meanwhile (the flow ended)
            raise gone from None
        assert isinstance(reply, PlanChanged)
        if not reply.accepted:
            raise FlowError(f"Flow {target!r} did not take the new plan: {reply.reason}.")

    async def replan(self, new_context: dict[str, Any], flow_id: str | None = None) -> FlowPlan:
        """Return the next version of a flow's plan, keeping its completed steps."""
        state = await self.get_state(flow_id)
        if state is None:
            raise FlowError(f"No checkpoint for flow {flow_id or self._last_flow_id!r} to replan.")
        return await self.planner.replan(state.flow_id, state, new_context)

    async def close(self) -> None:
        """Stop the owned actor system (an attached one is left running) and give back
        the store it opened."""
        if self._owns_system and self._system is not None:
            self._system.shutdown()
            self._system = None
        if self._store is not None and isinstance(self._store_spec, str):
            release_store(self._store)
        self._store = None

    # -- sync twins (same coroutines) ------------------------------------------------

    def initialize_sync(self, config: FlowConfig | None = None) -> None:
        """Blocking twin of :meth:`initialize`."""
        _run_sync(self.initialize(config))

    def get_state_sync(self, flow_id: str | None = None) -> FlowState | None:
        """Blocking twin of :meth:`get_state`."""
        return _run_sync(self.get_state(flow_id))

    def replan_sync(self, new_context: dict[str, Any], flow_id: str | None = None) -> FlowPlan:
        """Blocking twin of :meth:`replan`."""
        return _run_sync(self.replan(new_context, flow_id))

    def plan_sync(self, goal: str, context: dict[str, Any] | None = None) -> FlowPlan:
        """Blocking twin of :meth:`plan`."""
        return _run_sync(self.plan(goal, context))

    def execute_sync(self, plan: FlowPlan, context: dict[str, Any] | None = None) -> FlowState:
        """Blocking twin of :meth:`execute`."""
        return _run_sync(self.execute(plan, context))

    def resume_sync(self, flow_id: str | None = None) -> FlowState:
        """Blocking twin of :meth:`resume`."""
        return _run_sync(self.resume(flow_id))

    def update_plan_sync(self, plan: FlowPlan, flow_id: str | None = None) -> None:
        """Blocking twin of :meth:`update_plan`."""
        _run_sync(self.update_plan(plan, flow_id))

    def close_sync(self) -> None:
        """Blocking twin of :meth:`close`."""
        _run_sync(self.close())


def create_enhanced_flow(
    mcp_client: Any = None, *, system: ActorSystem | None = None, store: Store | str | None = None
) -> EnhancedFlow:
    """Return a new EnhancedFlow (the seed's factory).

    Without ``system``, the flow owns one that keeps flows in ``store``: by default the
    SQLite file ``$ACTORFLOW_STORE``, else ``.actorflow/store.sqlite`` (``"memory"`` keeps
    nothing), so they can be resumed after a crash.
    """
    if system is None and store is None:
        store = default_store()
    return EnhancedFlow(mcp_client, system=system, store=store)


def create_interactive_flow(
    human_callback: IHumanCallback | None = None, *, system: ActorSystem | None = None
) -> EnhancedFlow:
    """Return an EnhancedFlow with human callbacks on (set one with ``set_human_callback``)."""
    flow = EnhancedFlow(system=system)
    flow.config.enable_human_callbacks = True
    if human_callback is not None:
        flow.set_human_callback(human_callback)
    return flow
