"""Messages and behaviours shared by the runtime tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

from actorflow import ActorPath, Behaviour, Context, Message, StreamCallbackData


class Work(Message):
    """Work item number ``n``; ``fail`` makes the handler raise."""

    kind: Literal["test.work"] = "test.work"
    n: int = 0
    fail: bool = False


class Done(Message):
    """Reply to Work."""

    kind: Literal["test.done"] = "test.done"
    n: int
    by: str = ""


class Marker(Message):
    """Sent last; its handling proves everything before it was handled."""

    kind: Literal["test.marker"] = "test.marker"
    label: str = ""


class Stranger(Message):
    """A message no test behaviour handles."""

    kind: Literal["test.stranger"] = "test.stranger"


class Log:
    """Thread-safe record of what behaviours did, with waiting on a condition."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.items: list[object] = []

    def add(self, item: object) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_until(self, predicate: Callable[[list[object]], bool], timeout: float = 5.0) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(self.items), timeout)
        assert ok, f"condition not met within {timeout} s; log: {self.items[-20:]}"

    def wait_for(self, item: object, timeout: float = 5.0) -> None:
        self.wait_until(lambda items: item in items, timeout)

    def snapshot(self) -> list[object]:
        with self._cond:
            return list(self.items)


class Worker(Behaviour):
    """Records each Work it handles in ``log`` as ``(name, n)``; raises on ``fail``."""

    def __init__(self, log: Log, name: str = "", fail_on: frozenset[int] = frozenset()) -> None:
        self.log = log
        self.name = name
        self.fail_on = fail_on
        self.count = 0

    def on_start(self, ctx: Context) -> None:
        self.log.add(("start", self.name or ctx.path))

    def on_stop(self, ctx: Context) -> None:
        self.log.add(("stop", self.name or ctx.path))

    def on_work(self, msg: Work, ctx: Context) -> None:
        if msg.fail or msg.n in self.fail_on:
            raise ValueError(f"work {msg.n} failed")
        self.count += 1
        self.log.add((self.name or ctx.path, msg.n))
        if ctx.envelope is not None and ctx.envelope.reply_to is not None:
            ctx.reply(Done(n=msg.n, by=ctx.path))

    def on_marker(self, msg: Marker, ctx: Context) -> None:
        self.log.add(("marker", msg.label, self.count))


class Relay(Behaviour):
    """Forwards every Work to ``target``."""

    def __init__(self, target: ActorPath) -> None:
        self.target = target

    def on_work(self, msg: Work, ctx: Context) -> None:
        ctx.tell(self.target, msg)


class Collector:
    """A plain stream callback that keeps what it gets; ``done`` is set by a flow's last
    event."""

    def __init__(self) -> None:
        self.items: list[StreamCallbackData] = []
        self.done = threading.Event()

    def __call__(self, data: StreamCallbackData) -> None:
        self.items.append(data)
        if data.is_last:
            self.done.set()
