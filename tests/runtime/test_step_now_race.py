"""Starting effects on the loop while other threads call ``call_soon_threadsafe`` loses
no callback (``effects._step_now`` once popped another thread's handle off the loop's
ready queue: the task stepped twice and that callback was never run)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import pytest

from actorflow.runtime.effects import EffectRunner

pytestmark = pytest.mark.slow


@pytest.fixture
def fast_switching() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: the race window is hit
    yield
    sys.setswitchinterval(before)


async def work() -> None:
    return None


def test_effects_started_under_cross_thread_callbacks_lose_none(fast_switching: None) -> None:
    runner = EffectRunner()
    runner.dispatcher()
    loop = runner.loop
    errors: list[object] = []
    loop.call_soon_threadsafe(lambda: loop.set_exception_handler(lambda _l, c: errors.append(c)))
    sent, ran, stop = [0, 0], [0], threading.Event()

    def spam(i: int) -> None:
        while not stop.is_set():
            loop.call_soon_threadsafe(lambda: ran.__setitem__(0, ran[0] + 1))
            sent[i] += 1

    def submit_many(done: threading.Event) -> None:
        for _ in range(200):
            runner.submit(work, lambda *_: None)
        done.set()

    threads = [threading.Thread(target=spam, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        ends = time.monotonic() + 8  # a run length, not a synchronisation
        while time.monotonic() < ends and not errors:
            done = threading.Event()
            loop.call_soon_threadsafe(submit_many, done)
            assert done.wait(10)
    finally:
        stop.set()
        for t in threads:
            t.join()
    last = threading.Event()
    loop.call_soon_threadsafe(last.set)  # runs after every callback sent before it
    try:
        assert last.wait(30)
        assert errors == []
        assert ran[0] == sum(sent)
    finally:
        runner.close()
