"""An MCP client for flows: the official SDK's ``mcp.Client``, kept connected.

:class:`MCPClient` talks to one MCP server, over streamable HTTP
(:func:`create_production_client`) or a subprocess's stdio (:func:`create_stdio_client`).

- **Its own event loop.** The SDK binds a connection to the event loop (and task) that
  opened it, while flows call tools on the effects runner's loop and scripts on their
  own. So the client keeps its connection on a loop thread of its own
  (``actorflow-mcp-N``, started by the first call, stopped by :meth:`MCPClient.close`),
  and a call from any loop is handed over and its answer handed back. A caller that
  stops waiting (a step timed out) cancels the call.
- **Reconnects.** The first call (or :meth:`MCPClient.connect`) connects, retrying with
  exponential backoff (:class:`Backoff`) before giving up with
  :class:`~actorflow.mcp.MCPConnectionError`. When the connection is lost, every call in
  flight fails at once with ``MCPConnectionError`` (retryable: the flow retries the
  step), and the client reconnects in the background with the same backoff; a call made
  meanwhile waits for it.
- **Errors are classified** (:mod:`actorflow.mcp.errors`): the server's ``isError``
  answers and JSON-RPC errors are :class:`~actorflow.mcp.MCPToolError` with the server's
  text, arguments that do not fit the tool's input schema are
  :class:`~actorflow.mcp.MCPArgumentsError` (checked before sending), both never
  retried.
- **Progress.** The server's progress notifications for a call made by a flow step
  become stream events of that step: TOOL_RUNNING for each (``done``, ``total``, the
  message), and TOOL_STREAMING for each that carries a message (the message, in order).
- **Idempotency keys.** A call made by a flow step carries the attempt's idempotency key
  in its request's ``_meta`` under :data:`IDEMPOTENCY_META`, for servers with side
  effects.
- **Results are JSON data** (see :func:`actorflow.mcp._convert.result_value`).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self, TypeVar, final
from urllib.parse import urlsplit, urlunsplit

from pydantic import JsonValue

from actorflow._version import __version__
from actorflow.errors import ConfigurationError
from actorflow.flow.attempt import Attempt, call_in_attempt, current_attempt
from actorflow.flow.streaming import emit_stream
from actorflow.mcp._convert import (
    MCPToolInfo,
    argument_problems,
    result_text,
    result_value,
    tool_info,
)
from actorflow.mcp.errors import MCPArgumentsError, MCPConnectionError, MCPToolError
from actorflow.secrets import (
    MIN_SECRET_LENGTH,
    is_sensitive_name,
    redact_text,
    redacting_logger,
    register_secret,
)
from actorflow.streams import StreamCallbackType

__all__ = [
    "Backoff",
    "IDEMPOTENCY_META",
    "MCPClient",
    "MCPClientStatistics",
    "create_production_client",
    "create_stdio_client",
]

T = TypeVar("T")

IDEMPOTENCY_META: Final = "actorflow/idempotency-key"
"""The ``_meta`` key of a call made by a flow step: the attempt's idempotency key
(``flow id/step id/attempt``), the same when a resumed flow runs the attempt again."""

_INSTALL: Final = "pip install 'actorflow[mcp]'"
_CONNECTION_CLOSED: Final = -32000
_REQUEST_TIMEOUT: Final = -32001
_INVALID_PARAMS: Final = -32602
_LIST_PAGES: Final = 100
_numbers = itertools.count(1)


def require_sdk() -> Any:
    """Return the ``mcp`` SDK module.

    Raises:
        ConfigurationError: the SDK is not installed.
    """
    try:
        import mcp  # noqa: PLC0415 - optional dependency: actorflow[mcp]
    except ImportError as exc:
        raise ConfigurationError(
            f"MCP clients need the official MCP SDK (mcp>=2.3): {_INSTALL}."
        ) from exc
    return mcp


@final
@dataclass(frozen=True, slots=True)
class Backoff:
    """How a client retries connecting: ``attempts`` tries, waiting ``initial`` seconds
    after the first failure, ``factor`` times longer after each next, at most
    ``maximum``."""

    initial: float = 0.2
    factor: float = 2.0
    maximum: float = 5.0
    attempts: int = 8

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.initial < 0 or self.factor < 1 or self.maximum < 0:
            raise ConfigurationError(
                f"Invalid MCP reconnect backoff {self!r}: attempts must be at least 1, "
                "delays not negative and the factor at least 1."
            )

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed tries in a row."""
        return float(min(self.maximum, self.initial * self.factor ** max(0, failures - 1)))


@final
@dataclass(frozen=True, slots=True)
class MCPClientStatistics:
    """Counters of an :class:`MCPClient`."""

    is_connected: bool
    connects: int
    """Connections made (the first one and every reconnect)."""
    connection_losses: int
    """Connections that ended without the client closing them."""
    calls: int
    """Tool calls answered (successes and tool errors)."""
    failed_calls: int
    """Tool calls that got no answer (connection lost, refused arguments, ...)."""


class _Connection:
    """One SDK connection, held open by its holder task (client loop only)."""

    def __init__(self) -> None:
        self.client: Any = None
        self.alive = False
        self.stop = asyncio.Event()
        self.ended = asyncio.Event()
        self.reason = "the connection ended"
        self.inflight: set[asyncio.Task[Any]] = set()
        self.lost: set[asyncio.Task[Any]] = set()
        """In-flight calls cancelled because the connection ended."""


@final
class MCPClient:
    """A client of one MCP server (see the module docstring); an async context manager.

    Make one with :func:`create_production_client` or :func:`create_stdio_client`.

    Args:
        server: a streamable HTTP URL (the MCP endpoint, such as
            ``http://localhost:8081/mcp``), or the SDK's ``StdioServerParameters``.
        label: how logs and errors name the server (no credentials; it is passed
            through :func:`~actorflow.secrets.redact_text` all the same).
        backoff: how connecting is retried.
        call_timeout: seconds a tool call may take, a finite number above 0 (None: no
            limit but the step's own timeout).
        headers: HTTP headers sent with every request (HTTP only). The values of
            sensitive ones (``Authorization``, ``X-Api-Key``, ... by the rule of
            :mod:`actorflow.secrets`) are registered as secrets, so actorflow never writes
            them (journal, logs, stream events, errors); no header value is in an error
            this client builds. The values of a stdio server's environment variables
            with sensitive names (``GITHUB_TOKEN``, ``OPENAI_API_KEY``, ...) are
            registered the same way.

    Raises:
        ConfigurationError: ``call_timeout`` is not None or a finite number above 0.
    """

    def __init__(
        self,
        server: object,
        *,
        label: str,
        backoff: Backoff | None = None,
        call_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._server = server
        self.label = redact_text(label)
        self.backoff = backoff or Backoff()
        self.call_timeout = _checked_timeout(call_timeout)
        self._headers = dict(headers or {})
        for name, value in self._headers.items():
            if is_sensitive_name(name):
                _register(value)
        env = getattr(server, "env", None)  # a stdio server's environment
        self._env_secrets = tuple(
            value
            for name, value in (env.items() if isinstance(env, Mapping) else ())
            if isinstance(name, str) and isinstance(value, str) and is_sensitive_name(name)
        )
        for value in self._env_secrets:
            _register(value)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        # client loop only:
        self._conn: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None
        self._closing = False
        self._holders: set[asyncio.Task[None]] = set()
        self._tools: dict[str, MCPToolInfo] | None = None
        self._counts = {"connects": 0, "losses": 0, "calls": 0, "failed": 0}
        self._log = redacting_logger().bind(component="mcp", server=self.label)

    def __repr__(self) -> str:
        return f"MCPClient({self.label!r})"

    # -- public API (any event loop) ---------------------------------------------------

    async def connect(self) -> None:
        """Connect now (calls connect on their own when needed); idempotent.

        Raises:
            MCPConnectionError: no connection after the backoff's attempts.
            ConfigurationError: the client is closed, or the SDK is missing.
        """
        require_sdk()
        await self._run(self._ensure())

    async def list_tools(self, *, refresh: bool = False) -> list[MCPToolInfo]:
        """Return the tools the server lists (kept; ``refresh`` asks the server again).

        Raises:
            MCPConnectionError: the server cannot be reached.
        """
        require_sdk()
        return await self._run(self._listing(refresh=refresh))

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> JsonValue:
        """Call tool ``name`` with ``arguments``; return its result as JSON data.

        Called from a flow step, the server's progress notifications become that step's
        TOOL_RUNNING / TOOL_STREAMING events.

        Raises:
            MCPArgumentsError: the arguments do not fit the tool's input schema.
            MCPToolError: the server has no such tool, or answered with an error.
            MCPConnectionError: the connection was lost before the answer came
                (retryable).
        """
        require_sdk()
        args = dict(arguments or {})
        tools = await self._run(self._listing(refresh=False))
        info = next((t for t in tools if t.name == name), None)
        if info is None:  # perhaps new on the server: ask again once
            tools = await self._run(self._listing(refresh=True))
            info = next((t for t in tools if t.name == name), None)
        if info is None:
            known = ", ".join(sorted(t.name for t in tools)) or "none"
            self._count("failed")
            raise MCPToolError(
                f"MCP server {self.label} has no tool {name!r}. Its tools: {known}.",
                tool=name,
                server_text=f"Unknown tool: {name}",
            )
        problems = argument_problems(info.input_schema, args)
        if problems:
            self._count("failed")
            # jsonschema's messages quote the arguments' values: scrubbed like a server's.
            raise MCPArgumentsError(
                self._scrub(
                    f"The arguments {sorted(args)} do not fit the input schema of tool "
                    f"{name!r} of MCP server {self.label}: {'; '.join(problems)}. Fix the "
                    "step's 'arguments'."
                )
            )
        attempt = current_attempt()
        meta = None if attempt is None else {IDEMPOTENCY_META: attempt.idempotency_key}
        progress = _progress_events(name, attempt)
        result = await self._run(self._call(name, args, progress, meta))
        if result.is_error:
            text = self._scrub(result_text(result.content) or "(no text)")
            raise MCPToolError(
                f"Tool {name!r} of MCP server {self.label} failed: {text}",
                tool=name,
                server_text=text,
            )
        return result_value(result, info.output_schema)

    async def close(self) -> None:
        """Close the connection and stop the client's loop thread; idempotent. A closed
        client refuses further calls."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        done = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        await asyncio.wrap_future(done)
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 10.0)

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def statistics(self) -> MCPClientStatistics:
        """Return the client's counters."""
        with self._lock:
            counts = dict(self._counts)
        conn = self._conn
        return MCPClientStatistics(
            is_connected=conn is not None and conn.alive,
            connects=counts["connects"],
            connection_losses=counts["losses"],
            calls=counts["calls"],
            failed_calls=counts["failed"],
        )

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the loop thread -----------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """``text`` without the endpoint's credentials, the header values or a stdio
        server's credentials (an error's text may quote the URL it failed on)."""
        if isinstance(self._server, str) and self._server != self.label:
            text = text.replace(self._server, self.label)
        for value in (*self._headers.values(), *self._env_secrets):
            if len(value) >= 4:
                text = text.replace(value, "***")
        return redact_text(text)

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def _client_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise ConfigurationError(
                    f"The MCP client of {self.label} is closed; make a new one."
                )
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_run_loop, args=(loop,), name=f"actorflow-mcp-{next(_numbers)}",
                    daemon=True,
                )  # fmt: skip
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the client's loop and await its outcome from the caller's.

        Work that :meth:`close` cut off (its loop stopped under it) fails with
        :class:`MCPConnectionError`, not a ``CancelledError`` the caller would read as its
        own cancellation.
        """
        try:
            loop = self._client_loop()
        except BaseException:
            work.close()
            raise
        try:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if not self._closed or (caller is not None and caller.cancelling()):
                raise
            raise self._closed_error() from None

    def _closed_error(self) -> MCPConnectionError:
        return MCPConnectionError(
            f"The MCP client of {self.label} was closed before the server answered."
        )

    # -- connecting (client loop) ------------------------------------------------------

    async def _ensure(self) -> _Connection:
        conn = self._conn
        if conn is not None and conn.alive and not conn.stop.is_set():
            return conn
        connecting = self._start_connecting()
        try:
            return await asyncio.shield(connecting)
        except asyncio.CancelledError:
            # The shield passes the connect's own cancellation (close() stops it) on to
            # this task; only a cancellation of this task is the caller's.
            task = asyncio.current_task()
            if not connecting.cancelled() or (task is not None and task.cancelling()):
                raise
            raise self._closed_error() from None

    def _start_connecting(self) -> asyncio.Task[_Connection]:
        task = self._connecting
        if task is None or task.done():
            task = self._connecting = asyncio.get_running_loop().create_task(self._connect())
            task.add_done_callback(_consume)
        return task

    async def _connect(self) -> _Connection:
        failures = 0
        while True:
            if self._closing:
                raise MCPConnectionError(f"The MCP client of {self.label} is closing.")
            try:
                conn = await self._open()
            except Exception as exc:  # noqa: BLE001 - any failure to connect is retried
                failures += 1
                why = self._scrub(_describe(exc))
                if failures >= self.backoff.attempts:
                    raise MCPConnectionError(
                        f"Could not connect to MCP server {self.label} after {failures} "
                        f"attempts: {why}. Check that the server runs and the address is "
                        "right."
                    ) from None
                delay = self.backoff.delay(failures)
                self._log.warning(
                    "MCP connect failed ({why}); retry {n} in {delay:.3g} s",
                    why=why,
                    n=failures,
                    delay=delay,
                )
                await asyncio.sleep(delay)
            else:
                self._conn = conn
                self._count("connects")
                self._log.info("Connected to MCP server {server}", server=self.label)
                return conn

    async def _open(self) -> _Connection:
        conn = _Connection()
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        holder = asyncio.get_running_loop().create_task(self._hold(conn, ready))
        self._holders.add(holder)
        holder.add_done_callback(self._holders.discard)
        await ready
        return conn

    async def _hold(self, conn: _Connection, ready: asyncio.Future[None]) -> None:
        """Open the SDK connection, keep it until told to stop or it breaks, close it in
        this same task (the SDK's task groups require it)."""
        try:
            async with AsyncExitStack() as stack:
                conn.client = await stack.enter_async_context(await self._sdk_client(stack))
                conn.alive = True
                ready.set_result(None)
                await conn.stop.wait()
        except Exception as exc:  # noqa: BLE001 - the transport's end, whatever it was
            conn.reason = self._scrub(_describe(exc))
            if not ready.done():
                ready.set_exception(exc)
        except asyncio.CancelledError:
            if not ready.done():
                ready.set_exception(MCPConnectionError("connecting was cancelled"))
            raise
        finally:
            self._ended(conn)

    def _ended(self, conn: _Connection) -> None:
        was_alive, conn.alive = conn.alive, False
        for task in conn.inflight:
            conn.lost.add(task)
            task.cancel()
        conn.ended.set()
        if not was_alive:
            return
        if self._conn is conn:
            self._conn = None
        if self._closing:
            return
        self._count("losses")
        self._tools = None  # the server may have changed
        self._log.warning("Lost MCP server {server}: {why}; reconnecting", server=self.label,
                          why=conn.reason)  # fmt: skip
        self._start_connecting()

    async def _sdk_client(self, stack: AsyncExitStack) -> Any:
        mcp = require_sdk()
        target: Any = self._server
        if isinstance(target, str) and self._headers:
            import httpx2  # noqa: PLC0415 - comes with the SDK
            from mcp.client.streamable_http import streamable_http_client  # noqa: PLC0415

            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=self._headers, timeout=httpx2.Timeout(30.0, read=300.0))
            )
            target = streamable_http_client(target, http_client=http)
        info = mcp.Implementation(name="actorflow", version=__version__)
        return mcp.Client(target, client_info=info, cache=None)

    def _drop(self, conn: _Connection, reason: str) -> None:
        if conn.alive and not conn.stop.is_set():
            conn.reason = reason
            conn.stop.set()

    async def _shutdown(self) -> None:
        self._closing = True
        connecting = self._connecting
        if connecting is not None and not connecting.done():
            connecting.cancel()
            # let it end, so the calls waiting for it fail before the loop stops
            await asyncio.wait([connecting], timeout=10.0)
            await asyncio.sleep(0)
        conn = self._conn
        if conn is not None:
            conn.stop.set()
        holders = list(self._holders)
        if holders:
            _, pending = await asyncio.wait(holders, timeout=10.0)
            for task in pending:
                task.cancel()
        self._conn = None

    # -- calls (client loop) -----------------------------------------------------------

    async def _listing(self, *, refresh: bool) -> list[MCPToolInfo]:
        if self._tools is not None and not refresh:
            return list(self._tools.values())
        tools = await self._request(_list_all, "list its tools")
        self._tools = {t.name: t for t in tools}
        return tools

    async def _call(
        self, name: str, args: dict[str, Any], progress: _Progress, meta: dict[str, str] | None
    ) -> Any:
        timeout = self.call_timeout
        result = await self._request(
            lambda c: c.call_tool(
                name, args, read_timeout_seconds=timeout, progress_callback=progress, meta=meta
            ),
            f"call tool {name!r}",
        )
        self._count("calls")
        return result

    async def _request(self, send: Callable[[Any], Awaitable[T]], what: str) -> T:
        """Send one request on the live connection; classify what goes wrong."""
        conn = await self._ensure()
        task = asyncio.current_task()
        assert task is not None
        conn.inflight.add(task)
        try:
            return await send(conn.client)
        except asyncio.CancelledError:
            if task not in conn.lost:
                raise
            task.uncancel()
            self._count("failed")
            raise MCPConnectionError(
                f"The connection to MCP server {self.label} was lost before it answered "
                f"(to {what}): {conn.reason}."
            ) from None
        except Exception as exc:
            self._count("failed")
            raise self._classify(exc, conn, what) from exc
        finally:
            conn.inflight.discard(task)
            conn.lost.discard(task)

    def _classify(self, exc: Exception, conn: _Connection, what: str) -> Exception:
        from mcp import MCPError  # noqa: PLC0415 - optional dependency

        if isinstance(exc, MCPError):
            code, text = exc.code, self._scrub(exc.message)
            if code in (_CONNECTION_CLOSED, _REQUEST_TIMEOUT):
                if code == _CONNECTION_CLOSED:
                    self._drop(conn, text)
                return MCPConnectionError(
                    f"MCP server {self.label} did not answer (to {what}): {text}."
                )
            if code == _INVALID_PARAMS:
                return MCPArgumentsError(f"MCP server {self.label} refused (to {what}): {text}.")
            return MCPToolError(
                f"MCP server {self.label} answered with an error (to {what}): {text} "
                f"(code {code}).",
                tool=what,
                server_text=text,
            )
        if _is_transport_error(exc):
            why = self._scrub(_describe(exc))
            self._drop(conn, why)
            return MCPConnectionError(
                f"The connection to MCP server {self.label} failed (to {what}): {why}."
            )
        return exc


_Progress = Callable[[float, float | None, str | None], Awaitable[None]]


def _progress_events(tool: str, attempt: Attempt | None) -> _Progress:
    """The SDK progress callback of one call: stream events as the calling attempt."""
    index = itertools.count()

    async def progress(done: float, total: float | None, message: str | None) -> None:
        if attempt is None:
            return

        def emit() -> None:
            text = message or (f"{done:g}/{total:g}" if total is not None else f"{done:g}")
            emit_stream(StreamCallbackType.TOOL_RUNNING, text, done=done, total=total, tool=tool)
            if message:
                emit_stream(StreamCallbackType.TOOL_STREAMING, message, index=next(index),
                            tool=tool, done=done, total=total)  # fmt: skip

        call_in_attempt(attempt, emit)

    return progress


async def _list_all(client: Any) -> list[MCPToolInfo]:
    tools: list[MCPToolInfo] = []
    cursor: str | None = None
    for _ in range(_LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(tool_info(t) for t in page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _is_transport_error(exc: BaseException) -> bool:
    import anyio  # noqa: PLC0415 - comes with the SDK
    import httpx2  # noqa: PLC0415 - comes with the SDK

    if isinstance(exc, BaseExceptionGroup):
        return any(_is_transport_error(e) for e in exc.exceptions)
    transport = (
        OSError,
        EOFError,
        httpx2.TransportError,
        anyio.BrokenResourceError,
        anyio.ClosedResourceError,
        anyio.EndOfStream,
    )
    return isinstance(exc, transport)


def _checked_timeout(seconds: object) -> float | None:
    """``seconds`` as a call timeout: None, or a finite number above 0."""
    if seconds is None:
        return None
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise ConfigurationError(
            f"An MCP call_timeout must be a finite number of seconds above 0 (or None for "
            f"no limit), got {seconds!r}."
        )
    return float(seconds)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _register(value: str) -> None:
    """Redact a credential (a header's value, a URL's password) wherever actorflow
    writes (see :mod:`actorflow.secrets`); a ``Bearer`` token on its own too."""
    for text in (value, value.removeprefix("Bearer ").strip()):
        if len(text) >= MIN_SECRET_LENGTH:
            register_secret(text)


def _consume(task: asyncio.Task[Any]) -> None:
    """Retrieve a background task's outcome (a failed reconnect is logged, not lost)."""
    if not task.cancelled():
        task.exception()


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _endpoint(url: str, path: str) -> tuple[str, str]:
    """The MCP endpoint of a server's URL (``path`` added when it has none) and a label
    without credentials, query or fragment."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"An MCP server URL must be http:// or https:// with a host, got {url!r}."
        )
    endpoint = url if parts.path not in ("", "/") else urlunsplit(parts._replace(path=path))
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    label = urlunsplit((parts.scheme, netloc, urlsplit(endpoint).path, "", ""))
    return endpoint, label


async def create_production_client(
    url: str,
    *,
    path: str = "/mcp",
    headers: Mapping[str, str] | None = None,
    backoff: Backoff | None = None,
    call_timeout: float | None = None,
) -> MCPClient:
    """Return a client of the MCP server at ``url`` over streamable HTTP (the seed's
    ``create_production_client``); it connects on ``connect()`` or its first call.

    ``url`` is the server's base URL (``http://localhost:8081``: the SDK's endpoint
    ``path``, ``/mcp``, is added) or the endpoint itself (a URL with a path).

    Raises:
        ConfigurationError: the URL is not http(s), ``call_timeout`` is not None or a
            finite number above 0, or the SDK is missing (``pip install 'actorflow[mcp]'``).
    """
    require_sdk()
    endpoint, label = _endpoint(url, path)
    password = urlsplit(url).password
    if password:
        _register(password)
    return MCPClient(
        endpoint, label=label, backoff=backoff, call_timeout=call_timeout, headers=headers
    )


async def create_stdio_client(
    command: str,
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    backoff: Backoff | None = None,
    call_timeout: float | None = None,
) -> MCPClient:
    """Return a client of an MCP server run as a subprocess (``command args...``) that
    talks over its stdin/stdout; the process starts on ``connect()`` or the first call,
    and again on a reconnect.

    The values of ``env`` entries with sensitive names (``GITHUB_TOKEN``,
    ``OPENAI_API_KEY``, ...: the name rule of :mod:`actorflow.secrets`) are registered as
    secrets, like an HTTP client's sensitive headers. The client's label (``stdio:`` and
    the command's first two words) is redacted (``--api-key=...`` loses its value).

    Raises:
        ConfigurationError: ``call_timeout`` is not None or a finite number above 0, or
            the SDK is missing (``pip install 'actorflow[mcp]'``).
    """
    mcp = require_sdk()
    params = mcp.StdioServerParameters(
        command=command, args=list(args), env=None if env is None else dict(env), cwd=cwd
    )
    label = " ".join([command, *args][:2])
    return MCPClient(params, label=f"stdio:{label}", backoff=backoff, call_timeout=call_timeout)
