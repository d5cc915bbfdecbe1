"""The journal writer's batch I/O, on a thread of its own, overlapped with encoding.

An fsync releases the interpreter lock while the disk works (about 0.5 ms per batch on
the benchmark machine). Done on the writer thread, it leaves that thread nothing to do
meanwhile; done here, the writer thread encodes the next batch during it.

One job per batch: its write, then its fsync. The writer thread hands a job over and
waits until the job before has ended (fsync included) and this job's write has: so
batches reach the disk in order, each written only once the one before it is synced,
and only the fsync overlaps the writer thread's work. (Overlapping the write too would
not help: the I/O thread needs the interpreter lock back between the write and the
fsync, and the writer thread holds it while it encodes, for up to the 5 ms switch
interval.) Handing over the next job while the I/O thread is still in the fsync of the
one before lets the I/O thread go from one to the next without waiting to be woken:
two thread wake-ups per batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import final

__all__ = ["IoThread", "Step"]

Step = Callable[[], None]


@final
class IoThread:
    """Runs the writer's jobs (a write, then an fsync) one at a time on a daemon thread.

    The hand-offs are bare locks used as binary semaphores (a lock may be released by
    another thread than the one that acquired it): cheaper than ``threading.Event``s,
    which matters at one hand-off per batch.
    """

    def __init__(self, name: str) -> None:
        self._go = threading.Lock()
        """Released to hand a job over; the I/O thread waits on it between jobs."""
        self._taken = threading.Lock()
        """Released by the I/O thread once the job before has ended and the new job's
        write has; hand_over() waits on it."""
        self._go.acquire()
        self._taken.acquire()
        self._job: tuple[Step | None, Step | None] = (None, None)
        self._before_error: Exception | None = None
        self._write_error: Exception | None = None
        self._sync_error: Exception | None = None
        self._stopping = False
        # A daemon, like the writer thread: an fsync that never returns must not keep the
        # interpreter from exiting.
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def hand_over(
        self, write: Step | None, sync: Step | None
    ) -> tuple[Exception | None, Exception | None]:
        """Run ``write`` then ``sync`` on the I/O thread, after the job handed over before.

        Returns once that job has ended and ``write`` has (``sync`` then runs on):
        what the job before's fsync raised, and what ``write`` raised. After a failed
        fsync nothing more is written or synced (the new job's steps are skipped).
        """
        self._job = (write, sync)
        self._go.release()
        self._taken.acquire()
        return self._before_error, self._write_error

    def stop(self) -> None:
        """End the thread after the job in flight (call it from the thread that hands
        jobs over, never while it is inside hand_over())."""
        self._stopping = True
        self._go.release()

    def _run(self) -> None:
        """The I/O thread: each job's write, the hand-back, then its fsync."""
        while True:
            self._go.acquire()
            if self._stopping:
                return
            (write, sync), self._job = self._job, (None, None)
            self._before_error, self._sync_error = self._sync_error, None
            self._write_error = None
            if self._before_error is None and write is not None:
                self._write_error = _run_step(write)
            skip_sync = self._before_error is not None or self._write_error is not None
            self._taken.release()
            if sync is not None and not skip_sync:
                self._sync_error = _run_step(sync)


def _run_step(step: Step) -> Exception | None:
    try:
        step()
    except Exception as exc:  # noqa: BLE001 - handed to the writer thread, raised there
        return exc
    return None
