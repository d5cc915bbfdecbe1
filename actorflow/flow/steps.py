"""Step types: the registry, the context a step runs with, tools, and the built-in types.

A step type is a name, a handler ``async (step, context) -> result`` (a plain
function is run in the effects runner's thread pool) and, optionally, a pydantic
model its parameters must fit (checked before the flow runs). Built in:

=================  ==========================================================================
``mcp_tool``       ``tool_name``, ``arguments``: a registered tool, else the MCP client's tool
``human_input``    ``message``, ``input_type`` (confirm/input/select/help), ``options``
``condition``      ``condition``: an expression (see conditions); false skips its dependents
``parallel_task``  ``tool_name`` + ``arguments`` to run a tool, or ``value`` to produce a value
``synchronization`` joins its dependencies' results: ``{step_id: result}``
``network_request`` ``url``, ``method``, ``headers``, ``json``, ``params``, ``timeout`` (httpx)
``agent``          ``agent`` (actor path), ``task``: the agent actor answers ``AgentTaskDone``
=================  ==========================================================================

References: a string parameter ``"${expr}"`` is replaced by the value of ``expr``,
evaluated like a condition over the flow's names (plan variables, results by step
id and by ``output_key``, and ``context`` for all of them); ``"text ${expr} text"``
interpolates it as text.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
from collections.abc import Awaitable, Callable, Mapping
from contextvars import copy_context
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, Literal, cast, final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actorflow.errors import (
    ConfigurationError,
    FlowError,
    InvalidMessageError,
    InvalidStepParametersError,
    RetryableStepError,
    StepHTTPError,
    UnknownStepTypeError,
)
from actorflow.flow.expressions import Condition
from actorflow.flow.human import HumanCallbackData, HumanCallbackType, IHumanCallback
from actorflow.flow.models import FlowStep, StepSpec
from actorflow.flow.references import resolve_references
from actorflow.flow.streaming import collect_async, collect_sync
from actorflow.human.messages import HumanRequest
from actorflow.human.models import TimeoutPolicy
from actorflow.human.validation import check_request
from actorflow.messages import thaw

__all__ = [
    "ENGINE_OPTIONS",
    "EngineOptions",
    "StepContext",
    "StepHandler",
    "StepType",
    "ToolRegistry",
    "ask_human",
    "human_question",
    "register_step_type",
    "resolve_references",
    "step_type",
    "step_types",
]

StepHandler = Callable[[FlowStep, "StepContext"], Awaitable[Any] | Any]
"""``(step, context) -> result``; async, or plain (then run in a worker thread)."""


class EngineOptions(BaseModel):
    """Parameters any step may carry; they steer the engine, not the step type.

    Each is optional; a missing one falls back to the flow's :class:`FlowConfig`.
    """

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    critical: bool = True
    """A failure of a critical step fails the flow; of another, degrades it."""
    retry_delay: Annotated[float, Field(ge=0)] | None = None
    exponential_backoff: bool | None = None
    max_retry_delay: Annotated[float, Field(ge=0)] | None = None
    jitter: Annotated[float, Field(ge=0, le=1)] | None = None
    retry_on: list[str] | None = None
    """Error type names (short or qualified) worth a retry; others fail at once."""
    max_retries: Annotated[int, Field(ge=0, le=100)] | None = None
    output_key: Annotated[str, Field(min_length=1)] | None = None
    """Also store the result under this variable name."""
    skip_if_failed: bool | None = None
    """Skip this step when a dependency failed (non-critically)."""

    @classmethod
    def check(cls, step: StepSpec) -> None:
        """Validate the engine options among ``step``'s parameters.

        Raises:
            InvalidStepParametersError: one has the wrong type or is out of range.
        """
        if ENGINE_OPTIONS.isdisjoint(step.parameters):
            return
        try:
            cls.model_validate(step.parameters)
        except ValidationError as exc:
            first = exc.errors()[0]
            option, *inner = (str(p) for p in first["loc"])
            at = f" at [{']['.join(inner)}]" if inner else ""
            raise InvalidStepParametersError(
                f"Step {step.id!r} ({step.type}) has an invalid engine option {option!r}{at}: "
                f"{first['msg']} (got {first['input']!r}). Fix or remove that parameter."
            ) from None


ENGINE_OPTIONS = frozenset(EngineOptions.model_fields)
"""Parameters any step may carry; they steer the engine, not the step type."""


class StepContext(dict[str, Any]):
    """The names a step sees (a dict, as the seed's ``execute_step(step, context)``) plus
    the flow's services as attributes."""

    def __init__(
        self,
        names: Mapping[str, Any],
        *,
        flow_id: str,
        step_id: str,
        attempt: int,
        results: Mapping[str, Any],
        services: FlowServices,
    ) -> None:
        super().__init__(names)
        self.flow_id = flow_id
        self.step_id = step_id
        self.attempt = attempt
        self.results = dict(results)
        self.services = services


_UNCHECKED = "unchecked"


@final
class ToolRegistry:
    """In-process tools by name: plain or async callables taking keyword arguments."""

    def __init__(self) -> None:
        self._tools: dict[str, tuple[Callable[..., Any], str]] = {}
        self._builtin: set[str] = set()
        self._async: set[str] = set()
        self._inline: set[str] = set()
        self._binds: dict[tuple[str, int, frozenset[str]], str | None] = {}
        """Whether argument names bind to a tool, by (name, tool identity, names)."""
        self._lock = threading.Lock()

    def register(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        description: str = "",
        replace: bool = False,
        builtin: bool = False,
        inline: bool = False,
    ) -> None:
        """Register ``fn`` as tool ``name``; ``description`` helps the planner pick it.

        A tool you register replaces a built-in one of the same name. A plain (sync) tool
        runs in the effects thread pool, so that one that blocks never stalls other flows;
        ``inline=True`` runs a sync tool that never blocks (pure computation of
        microseconds) on the flows' event loop instead, like an async tool that never
        awaits, saving the pool's two thread hand-offs per call. An inline tool that does
        block stalls every flow and no timeout can stop it: use it only for tools you know
        are fast.

        Raises:
            ConfigurationError: the name is taken (and ``replace`` is false), fn is not
                callable, or ``inline`` is asked for an async tool.
        """
        if not callable(fn):
            raise ConfigurationError(f"Tool {name!r} must be callable, got {fn!r}.")
        if inline and _is_async_callable(fn):
            raise ConfigurationError(
                f"Tool {name!r} is async: it runs on the event loop already. Drop inline=True."
            )
        with self._lock:
            if name in self._tools and not replace and name not in self._builtin:
                raise ConfigurationError(
                    f"Tool {name!r} is already registered. Pass replace=True to replace it."
                )
            self._tools[name] = (fn, description or (fn.__doc__ or "").strip())
            if _is_async_callable(fn):
                self._async.add(name)
            else:
                self._async.discard(name)
            if builtin:
                self._builtin.add(name)
            else:
                self._builtin.discard(name)
            if inline:
                self._inline.add(name)
            else:
                self._inline.discard(name)

    def is_inline(self, name: str) -> bool:
        """Whether sync tool ``name`` runs on the event loop (registered ``inline=True``)."""
        return name in self._inline

    def check_arguments(self, name: str, arguments: Mapping[str, Any], *, step_id: str) -> None:
        """Check that ``arguments`` bind to tool ``name``'s signature (if it is registered).

        Raises:
            InvalidStepParametersError: they do not; the message names the step and the fix.
        """
        fn = self.get(name)
        if fn is None:
            return
        key = (name, id(fn), frozenset(arguments))
        why = self._binds.get(key, _UNCHECKED)
        if why is _UNCHECKED:
            why = _bind_error(name, fn, arguments)  # depends on the argument names only
            with self._lock:
                if len(self._binds) > 10_000:
                    self._binds.clear()
                self._binds[key] = why
        if why is not None:
            raise InvalidStepParametersError(
                f"Step {step_id!r}: its arguments {sorted(arguments)} do not fit tool "
                f"{name!r}: {why}. Fix the step's 'arguments'."
            )

    def is_async(self, name: str) -> bool:
        """Whether tool ``name`` is a coroutine function (awaited on the loop, not in a thread)."""
        entry = self._tools.get(name)
        return entry is not None and name in self._async

    def is_builtin(self, name: str) -> bool:
        """Whether ``name`` is one of the built-in tools (not replaced by yours)."""
        return name in self._builtin

    def get(self, name: str) -> Callable[..., Any] | None:
        """Return the tool called ``name``, if registered."""
        entry = self._tools.get(name)
        return None if entry is None else entry[0]

    def describe(self) -> dict[str, str]:
        """Return ``{name: description}`` of every tool."""
        with self._lock:
            return {name: desc for name, (_, desc) in self._tools.items()}

    def __contains__(self, name: object) -> bool:
        return name in self._tools


def _is_async_callable(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` gives a coroutine or an async generator (an ``async def``
    function, or an object whose ``__call__`` is one)."""
    call = getattr(type(fn), "__call__", None) if not inspect.isroutine(fn) else None  # noqa: B004
    return any(
        inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f)
        for f in (fn, call)
        if f is not None
    )


@dataclass
class FlowServices:
    """What steps may use: tools, the MCP client, the human callback, the actor system."""

    tools: ToolRegistry = field(default_factory=ToolRegistry)
    mcp_client: Any = None
    human_callback: IHumanCallback | None = None
    human_timeout: float = 3600.0
    human_handler: str | None = None
    """The name ``human_callback`` is registered under at the human gateway (None: the
    flow asks it directly)."""
    record_effect: Callable[[str, str, str, Any], None] | None = None
    """``(flow_id, effect, name, value)``: journal a value that came from outside (an
    MCP call's request and response) as an ``EffectRecorded`` of the flow's actor."""


@final
@dataclass(frozen=True, slots=True)
class StepType:
    """A registered step type."""

    name: str
    handler: StepHandler
    parameters: type[BaseModel] | None = None
    runs_in: Literal["executor", "flow_actor"] = "executor"
    is_async: bool = False
    """Whether the handler is a coroutine function (set at registration)."""

    def check(self, step: StepSpec, services: FlowServices | None = None) -> None:
        """Validate a step's parameters for this type.

        Raises:
            InvalidStepParametersError: they do not fit.
        """
        if self.parameters is not None:
            own = {k: v for k, v in step.parameters.items() if k not in ENGINE_OPTIONS}
            try:
                self.parameters.model_validate(own)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "parameters"
                raise InvalidStepParametersError(
                    f"Step {step.id!r} ({step.type}) has invalid parameters: {where!r}: "
                    f"{first['msg']}. Fix the step's parameters."
                ) from None
        if self.name in ("mcp_tool", "parallel_task") and services is not None:
            _check_tool(step, services)
        if self.name == "human_input":
            _check_question(step, services or FlowServices())


_registry: dict[str, StepType] = {}
_registry_lock = threading.Lock()


def register_step_type(
    name: str,
    handler: StepHandler,
    *,
    parameters: type[BaseModel] | None = None,
    replace: bool = False,
) -> StepType:
    """Register a custom step type ``name`` run by ``handler(step, context)``.

    Raises:
        ConfigurationError: the name is taken (and ``replace`` is false), or invalid.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise ConfigurationError(
            f"Step type name {name!r} must be lowercase letters, digits and '_', "
            "starting with a letter."
        )
    info = StepType(name, handler, parameters, is_async=inspect.iscoroutinefunction(handler))
    with _registry_lock:
        if name in _registry and not replace:
            raise ConfigurationError(
                f"Step type {name!r} is already registered. Pass replace=True to replace it."
            )
        _registry[name] = info
    return info


def step_type(name: str) -> StepType:
    """Return the registered step type ``name``.

    Raises:
        UnknownStepTypeError: nothing is registered under that name.
    """
    info = _registry.get(name)
    if info is None:
        known = ", ".join(sorted(_registry))
        raise UnknownStepTypeError(
            f"Unknown step type {name!r}. Registered types: {known}. Register it with "
            "register_step_type(name, handler) or fix the step's type."
        )
    return info


def step_types() -> dict[str, StepType]:
    """Return a snapshot of the registry."""
    with _registry_lock:
        return dict(_registry)


# -- built-in step types ----------------------------------------------------------


class _Loose(BaseModel):
    model_config = ConfigDict(extra="forbid")


Reference = Annotated[str, Field(pattern=r"^\$\{.*\}$")]
"""A whole ``${...}`` reference, standing for a value computed when the step runs."""


class ToolParameters(_Loose):
    """Parameters of ``mcp_tool``."""

    tool_name: str
    arguments: dict[str, Any] | Reference = {}


class HumanParameters(_Loose):
    """Parameters of ``human_input``."""

    message: str
    input_type: Literal["confirm", "input", "select", "help"] = "input"
    options: list[Any] | None = None
    default_value: Any = None
    on_timeout: Literal["fail", "default", "escalate"] = "fail"
    escalation_timeout: Annotated[float, Field(gt=0)] | None = None
    multi_select: bool = False
    value_type: Literal["str", "int", "float", "bool"] | None = None
    pattern: str | None = None


class ConditionParameters(_Loose):
    """Parameters of ``condition``."""

    condition: str


class ParallelParameters(_Loose):
    """Parameters of ``parallel_task``."""

    tool_name: str | None = None
    arguments: dict[str, Any] | Reference = {}
    value: Any = None


class NetworkParameters(_Loose):
    """Parameters of ``network_request``."""

    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = {}
    params: dict[str, Any] = {}
    json_body: Any = None
    timeout: float = 30.0
    retry_on_status: list[int] = [408, 429, 500, 502, 503, 504]
    """Statuses worth a retry; other 4xx answers are never retried."""


class AgentParameters(_Loose):
    """Parameters of ``agent``."""

    agent: str
    task: str
    arguments: dict[str, Any] | Reference = {}


def _check_question(step: StepSpec, services: FlowServices) -> None:
    """Refuse a question the human gateway would refuse whatever the answer (an unsafe
    pattern, a default that is no valid answer, multi-select on a confirmation), unless
    references make it known only when the step runs."""
    if "${" in repr(step.parameters):
        return
    question = {k: v for k, v in step.parameters.items() if k not in ENGINE_OPTIONS}
    data = human_question(step.id, question, None, services)
    if step.timeout is not None:
        data = data.model_copy(update={"timeout": step.timeout})
    try:
        check_request(HumanRequest.from_data(data))
    except (ConfigurationError, InvalidMessageError) as exc:
        raise InvalidStepParametersError(
            f"Step {step.id!r} (human_input) asks a question that cannot be answered: {exc}"
        ) from None


def _check_tool(step: StepSpec, services: FlowServices) -> None:
    name = step.parameters.get("tool_name")
    if not isinstance(name, str) or "${" in name:
        return
    if name not in services.tools and services.mcp_client is None:
        known = ", ".join(sorted(services.tools.describe())) or "none"
        raise InvalidStepParametersError(
            f"Step {step.id!r} uses tool {name!r}, which is not registered, and the flow has "
            f"no MCP client. Registered tools: {known}. Register it with flow.register_tool()."
        )
    arguments = step.parameters.get("arguments", {})
    if isinstance(arguments, dict):  # references stand for values; the names are known
        services.tools.check_arguments(name, arguments, step_id=step.id)


def _bind_error(name: str, fn: Callable[..., Any], arguments: Mapping[str, Any]) -> str | None:
    """Why ``arguments`` do not bind to tool ``fn``'s signature, or None if they do."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return None
    try:
        signature.bind(**arguments)
    except TypeError as exc:
        return f"{exc} (tool {name!r} takes {signature})"
    return None


async def call_tool(name: str, arguments: Mapping[str, Any], context: StepContext) -> Any:
    """Call registered tool ``name`` (or the MCP client's) with ``arguments``."""
    tools = context.services.tools
    fn = tools.get(name)
    arguments = cast("Mapping[str, Any]", thaw(arguments))  # the tool's own copy
    if fn is not None:
        try:
            if tools.is_async(name):
                made = fn(**arguments)
                return await (collect_async(made) if inspect.isasyncgen(made) else made)
            if tools.is_inline(name):
                return streamed(fn(**arguments))
            return await _call(lambda: streamed(fn(**arguments)))
        except TypeError:
            # Arguments that do not bind are the step's mistake (never retried); a
            # TypeError from inside the tool is the tool's own and goes on as it is.
            tools.check_arguments(name, arguments, step_id=context.step_id)
            raise
    client = context.services.mcp_client
    if client is None:
        raise InvalidStepParametersError(
            f"Tool {name!r} is not registered and there is no MCP client."
        )
    return await _call_mcp(client, name, dict(arguments), context)


async def _call_mcp(client: Any, name: str, arguments: dict[str, Any], context: StepContext) -> Any:
    """Call tool ``name`` of the MCP client; journal the call (request and response, or
    error) as an ``mcp`` effect of the flow, so a replay can serve it without the server."""
    record = context.services.record_effect
    request = {"tool": name, "arguments": arguments, "attempt": context.attempt}
    try:
        result = await client.call_tool(name, arguments)
    except Exception as exc:
        if record is not None:
            error = {
                "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                "message": str(exc),
            }
            _record(record, context, name, {"request": request, "error": error})
        raise
    if record is not None:
        _record(record, context, name, {"request": request, "response": result})
    return result


def _record(
    record: Callable[[str, str, str, Any], None], context: StepContext, name: str, value: Any
) -> None:
    try:
        record(context.flow_id, "mcp", name, value)
    except (ValidationError, ValueError, TypeError):  # not JSON data: the step fails on it
        fallback = {"request": {"tool": name, "attempt": context.attempt}, "not_json": True}
        record(context.flow_id, "mcp", name, fallback)


def blocking_tool_call(
    step_type_name: str, parameters: Mapping[str, Any], services: FlowServices, *, step_id: str
) -> Callable[[], object] | None:
    """Return the call of an ``mcp_tool`` step whose tool is a registered sync tool that
    runs in the pool (not inline), ready to run on a pool thread with the semantics of
    :func:`call_tool`; None for any other step (it runs through ``execute_step``)."""
    registered = _registry.get(step_type_name)
    if step_type_name != "mcp_tool" or registered is None or registered.handler is not _mcp_tool:
        return None
    name = parameters.get("tool_name")
    arguments = parameters.get("arguments", {})
    if not isinstance(name, str) or not isinstance(arguments, Mapping):
        return None  # execute_step raises the step's error
    tools = services.tools
    fn = tools.get(name)
    if fn is None or tools.is_async(name) or tools.is_inline(name):
        return None
    own = cast("dict[str, Any]", thaw(arguments))  # the tool's own copy

    def call() -> object:
        try:
            return streamed(fn(**own))
        except TypeError:
            tools.check_arguments(name, own, step_id=step_id)  # not binding: the step's
            raise

    return call


def streamed(result: object) -> object:
    """A sync tool's result; a generator's items are run through here, each a
    TOOL_STREAMING event (see :mod:`actorflow.flow.streaming`)."""
    if inspect.isgenerator(result):
        return collect_sync(result)
    return result


async def _call(fn: Callable[[], Any]) -> Any:
    if inspect.iscoroutinefunction(fn) or (
        isinstance(fn, partial) and inspect.iscoroutinefunction(fn.func)
    ):
        return await fn()
    # The worker thread sees the caller's context (the current attempt, for one).
    result = await asyncio.get_running_loop().run_in_executor(None, copy_context().run, fn)
    if inspect.isawaitable(result):
        return await result
    return result


async def _mcp_tool(step: FlowStep, context: StepContext) -> Any:
    # Checked against ToolParameters before the flow ran; after references are resolved
    # only the two fields' types can have changed, so only those are checked again.
    name = step.parameters.get("tool_name")
    arguments = step.parameters.get("arguments", {})
    if not isinstance(name, str) or not isinstance(arguments, dict):
        raise InvalidStepParametersError(
            f"Step {step.id!r}: after resolving references, 'tool_name' must be a string and "
            f"'arguments' a mapping; got {name!r} and {type(arguments).__name__}."
        )
    return await call_tool(name, arguments, context)


async def _parallel_task(step: FlowStep, context: StepContext) -> Any:
    params = ParallelParameters.model_validate(_own(step))
    if params.tool_name is not None:
        if not isinstance(params.arguments, dict):
            raise InvalidStepParametersError(
                f"Step {step.id!r}: after resolving references, 'arguments' must be a mapping; "
                f"got {type(params.arguments).__name__}."
            )
        return await call_tool(params.tool_name, params.arguments, context)
    return params.value


async def _synchronization(step: FlowStep, context: StepContext) -> Any:
    return {dep: context.results.get(dep) for dep in step.dependencies}


async def _condition(step: FlowStep, context: StepContext) -> Any:
    params = ConditionParameters.model_validate(_own(step))
    names = {**context, "context": dict(context)}
    return bool(Condition.parse(params.condition).evaluate(names))


async def _human_input(step: FlowStep, context: StepContext) -> Any:
    """A human step run through ``execute_step`` (flows ask through ``ask_human``)."""
    question = human_question(step.id, _own(step), context.flow_id, context.services)
    return await ask_human(question, context.services)


def human_question(
    step_id: str, request: Mapping[str, Any], flow_id: str | None, services: FlowServices
) -> HumanCallbackData:
    """Return the question of a ``human_input`` step from its (resolved) parameters.

    Raises:
        InvalidStepParametersError: the parameters do not make a question (a reference
            resolved to something that is not text, say).
    """
    params = {k: v for k, v in request.items() if v is not None}
    try:
        checked = HumanParameters.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "parameters"
        raise InvalidStepParametersError(
            f"Step {step_id!r} (human_input) has invalid parameters: {where!r}: "
            f"{first['msg']}. Fix the step's parameters."
        ) from None
    return HumanCallbackData(
        type=HumanCallbackType(checked.input_type),
        message=checked.message,
        options=checked.options,
        default_value=checked.default_value,
        timeout=services.human_timeout,
        flow_id=flow_id,
        step_id=step_id,
        on_timeout=TimeoutPolicy(checked.on_timeout),
        escalation_timeout=checked.escalation_timeout,
        multi_select=checked.multi_select,
        value_type=checked.value_type,
        pattern=checked.pattern,
    )


async def ask_human(question: HumanCallbackData, services: FlowServices) -> Any:
    """Put ``question`` to the flow's human callback and return the answer's value.

    Raises:
        ConfigurationError: the flow has no human callback.
    """
    callback = services.human_callback
    if callback is None:
        raise ConfigurationError(
            f"Step {question.step_id!r} needs a human answer, but the flow has no human "
            "callback. Call flow.set_human_callback(...) (e.g. ScriptedHumanCallback for "
            "scripts)."
        )
    method = {
        HumanCallbackType.CONFIRM: callback.on_human_confirm,
        HumanCallbackType.INPUT: callback.on_human_input,
        HumanCallbackType.SELECT: callback.on_human_select,
        HumanCallbackType.HELP: callback.on_human_help,
    }[question.type]
    # No timer here: the flow times the step out on its own clock (the step's timeout,
    # else the config's human_timeout), which cancels this call.
    response = await method(question)
    return response.value


async def _network_request(step: FlowStep, context: StepContext) -> Any:
    params = NetworkParameters.model_validate(_own(step))
    try:
        import httpx  # noqa: PLC0415 - optional dependency: actorflow[http]
    except ImportError as exc:
        raise ConfigurationError(
            "network_request steps need httpx: pip install 'actorflow[http]'."
        ) from exc
    try:
        async with httpx.AsyncClient(timeout=params.timeout) as client:
            response = await client.request(
                params.method,
                params.url,
                headers=params.headers,
                params=params.params,
                json=params.json_body,
            )
    except httpx.HTTPError as exc:
        raise RetryableStepError(f"{params.method} {params.url} failed: {exc!r}") from exc
    status = response.status_code
    if status >= 400:
        text = f"{params.method} {params.url} answered {status}: {response.text[:200]}"
        retryable = True if status in params.retry_on_status else None
        raise StepHTTPError(text, status_code=status, retryable=retryable)
    kind = response.headers.get("content-type", "")
    body: Any = response.json() if kind.startswith("application/json") else response.text
    return {"status": response.status_code, "body": body}


async def _agent(step: FlowStep, context: StepContext) -> Any:  # pragma: no cover - flow actor
    raise FlowError("agent steps are run by the flow actor, not by the executor")


def _own(step: FlowStep) -> dict[str, Any]:
    return {k: v for k, v in step.parameters.items() if k not in ENGINE_OPTIONS}


for _name, _handler, _params in (
    ("mcp_tool", _mcp_tool, ToolParameters),
    ("condition", _condition, ConditionParameters),
    ("parallel_task", _parallel_task, ParallelParameters),
    ("synchronization", _synchronization, None),
    ("network_request", _network_request, NetworkParameters),
):
    register_step_type(_name, _handler, parameters=_params)
_registry["agent"] = StepType("agent", _agent, AgentParameters, runs_in="flow_actor")
_registry["human_input"] = StepType(
    "human_input", _human_input, HumanParameters, runs_in="flow_actor", is_async=True
)
