"""A local fake OpenAI-compatible chat-completions server (``http.server`` in a thread).

Tests queue what it answers (:meth:`FakeOpenAI.reply`, :meth:`FakeOpenAI.stream`,
:meth:`FakeOpenAI.fail`, :meth:`FakeOpenAI.hold`) and read what it got
(:attr:`FakeOpenAI.requests`). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """A request the server got."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class _Action:
    status: int = 200
    body: dict[str, Any] | None = None
    events: Sequence[dict[str, Any]] = ()
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None
    """Answer only once this is set (a slow server)."""


def completion(
    content: str | None = "",
    *,
    tool_calls: Sequence[tuple[str, str, dict[str, Any]]] = (),
    reasoning: str | None = None,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    model: str = "fake-model",
) -> dict[str, Any]:
    """A chat.completion body; ``tool_calls`` as ``(id, name, arguments)``."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, n, a in tool_calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def chunks(
    texts: Sequence[str],
    *,
    thinking: Sequence[str] = (),
    tool_call: tuple[str, str, str] | None = None,
    usage: tuple[int, int] = (7, 3),
) -> list[dict[str, Any]]:
    """chat.completion.chunk bodies: thinking deltas, text deltas, a tool call split in two
    deltas (``(id, name, arguments JSON)``), then a usage chunk."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "fake-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"reasoning_content": t}) for t in thinking]
    out += [chunk({"content": t}) for t in texts]
    if tool_call is not None:
        call_id, name, arguments = tool_call
        half = len(arguments) // 2
        first = {
            "index": 0,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": arguments[:half]},
        }
        out.append(chunk({"tool_calls": [first]}))
        rest = {"index": 0, "function": {"arguments": arguments[half:]}}
        out.append(chunk({"tool_calls": [rest]}))
    out.append(chunk({}, "tool_calls" if tool_call else "stop"))
    prompt, done = usage
    out.append(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "fake-model",
            "choices": [],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": done,
                "total_tokens": prompt + done,
            },
        }
    )
    return out


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that gave up (a timeout test) breaks the pipe of its answer."""


class FakeOpenAI:
    """The server; use :func:`fake_openai` to run one."""

    def __init__(self) -> None:
        self._actions: deque[_Action] = deque()
        self.requests: list[Received] = []
        self._lock = threading.Condition()
        server = _Server(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"

    # -- scripting ---------------------------------------------------------------------

    def reply(self, body: dict[str, Any], *, hold: threading.Event | None = None) -> None:
        """Answer the next request with ``body`` (200)."""
        self._actions.append(_Action(body=body, hold=hold))

    def stream(self, events: Sequence[dict[str, Any]]) -> None:
        """Answer the next request with these server-sent events, then ``[DONE]``."""
        self._actions.append(_Action(events=events))

    def fail(self, status: int, message: str = "failure", **headers: str) -> None:
        """Answer the next request with an error status."""
        body = {"error": {"message": message, "type": "error", "code": None}}
        self._actions.append(_Action(status=status, body=body, headers=headers))

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        """Block until ``count`` requests arrived."""
        with self._lock:
            ok = self._lock.wait_for(lambda: len(self.requests) >= count, timeout)
        assert ok, f"the server got {len(self.requests)} requests, not {count}"

    # -- serving -----------------------------------------------------------------------

    def _take(self, received: Received) -> _Action:
        with self._lock:
            self.requests.append(received)
            self._lock.notify_all()
            if not self._actions:
                return _Action(status=500, body={"error": {"message": "nothing scripted"}})
            return self._actions.popleft()

    def start(self) -> None:
        threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-openai", daemon=True
        ).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            action = fake._take(Received(self.path, headers, body))
            if action.hold is not None:
                action.hold.wait(10)
            if action.events:
                self._stream(action.events)
                return
            data = json.dumps(action.body or {}).encode()
            self.send_response(action.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in action.headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, events: Sequence[dict[str, Any]]) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            for event in events:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    return Handler


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    """Run a fake server for the ``with`` block."""
    server = FakeOpenAI()
    server.start()
    try:
        yield server
    finally:
        server.stop()
