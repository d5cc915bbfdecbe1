"""Writing a journal off the hot path: senders append to a bounded queue, one thread writes.

Durability policies, and what each keeps if the process is killed (SIGKILL, a crash)
or the machine loses power; "written" means handed to the OS with ``write()``, which a
process kill cannot undo:

- ``none``: records are written in batches (a batch closes after ``batch_frames``
  records or ``batch_interval`` seconds) and never fsynced. A kill loses the records
  not yet written: at most the queue (``max_pending``) plus the batch being encoded,
  usually those of the last ``batch_interval``. A power loss may also lose what the OS
  had not yet put on disk.
- ``batch`` (default): as ``none``, and every batch is fsynced right after its write,
  so a power loss loses no more than a kill plus the batch being synced. A ``flush()``
  that returned True is a durable point. Batches are written and fsynced on a second
  thread (the I/O thread) while the writer thread encodes the next batch, which is
  written only once that fsync has completed: one fsync per batch, in order, as if on
  one thread.
- ``every``: ``append()`` returns only once its record is written and fsynced (group
  commit: appenders that wait together share one fsync). A kill or a power loss loses
  only records whose ``append()`` had not returned (unless it gave up after
  ``append_timeout``, counted in ``sync_timeouts``).

In every policy a kill in the middle of a write leaves at most a torn tail, which
readers report and the next writer cuts off.

The queue holds at most ``max_pending`` records. An ``append()`` that finds it full
waits up to ``append_timeout`` seconds for room; then the record is dropped. Nothing
is dropped silently: every dropped record is counted in :meth:`statistics`
(``dropped_full``, ``dropped_invalid``, ``dropped_closed``, ``dropped_unwritten``) and
logged (the first of each cause, then at 10, 100, 1000 ... and in a summary at close).

Only the writer thread touches the file after the header: it writes the batches, and on
``close()`` the last records, the final fsync and the close. ``close(timeout)`` returns
within its timeout: records still queued when it runs out are dropped (counted in
``dropped_unwritten``); a write the OS has not finished by then is left to the writer
thread, which closes the file when it returns.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from itertools import repeat
from operator import call
from pathlib import Path
from typing import final

from loguru import logger

from actorflow._version import __version__
from actorflow.errors import JournalError
from actorflow.journal._append_file import open_for_append
from actorflow.journal._config import Durability, JournalConfig, JournalStatistics
from actorflow.journal._counters import DropCause, WriterCounters
from actorflow.journal._io_thread import IoThread
from actorflow.journal.format import (
    FORMAT_VERSION,
    JournalHeader,
    JournalRecord,
    encode_body,
    encode_frames,
    frame,
)

__all__ = ["Durability", "JournalConfig", "JournalStatistics", "JournalWriter"]


class _Flush:
    """A marker in the queue: set once everything appended before it is written, or
    dropped (then ``written`` is False)."""

    __slots__ = ("done", "written")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.written = True


@final
class JournalWriter:
    """Appends records to a journal file from any thread; a writer thread persists them."""

    def __init__(self, config: JournalConfig, *, run_id: str, started_at: float) -> None:
        self.config = config
        self._every = config.durability is Durability.EVERY
        self._sync_batches = config.durability is not Durability.NONE
        self._pending: deque[JournalRecord | _Flush] = deque()
        self._max_pending = config.max_pending
        self._wake = threading.Event()
        self._wake_at = 0 if self._every else min(config.batch_frames, config.max_pending)
        """Queue length from which append() wakes the writer thread (0 under ``every`` and
        once close() has begun: every append takes the slow path)."""
        self._room = threading.Condition(threading.Lock())
        """Appenders wait on it for room in a full queue; the writer notifies after taking."""
        self._waiting = 0
        """Appenders waiting for room (read without the lock: a hint to notify)."""
        self._low_water = config.max_pending // 2
        """Waiting appenders are woken once the queue is down to this: they then append
        many records per wake-up instead of one batch, and hand the interpreter back and
        forth less often."""
        self._counters = WriterCounters(
            config.path, append_timeout=config.append_timeout, max_pending=config.max_pending
        )
        self._closing = False
        """close() has begun or the disk failed: append() drops, flush() returns at once."""
        self._close_called = False
        self._deadline = float("inf")
        """monotonic() time by which close() wants the writer thread done."""
        self._done = threading.Event()
        """The writer thread has closed the file (or failed) and emptied the queue."""
        self._closed_cleanly = False
        """Everything appended before close() was written and synced."""
        self._failure: JournalError | None = None
        self.frames = self.bytes = self.fsyncs = 0
        self._io: IoThread | None = None
        """Under ``batch``: writes each batch, then syncs it while this thread encodes the
        next one."""
        self._in_flight: tuple[int, int, list[_Flush]] | None = None
        """The batch the I/O thread may still be syncing: its frames, bytes and flush
        markers."""
        self._file = open_for_append(config.path)
        header = JournalHeader(
            format_version=FORMAT_VERSION,
            run_id=run_id,
            started_at=started_at,
            actorflow_version=__version__,
            entry_point=config.entry_point,
        )
        self._write(frame(encode_body(header)), 1, sync=self._sync_batches)
        if config.durability is Durability.BATCH:  # ``every`` writes at once: latency first
            self._io = IoThread("actorflow-journal-io")
        self._thread = threading.Thread(target=self._run, name="actorflow-journal", daemon=True)
        self._thread.start()

    @property
    def path(self) -> Path:
        """The journal file."""
        return self.config.path

    # -- appending (any thread) ----------------------------------------------------------

    def append(self, record: JournalRecord) -> None:
        """Queue a record (any thread).

        Returns at once while the queue has room and the policy is not ``every``. A full
        queue makes it wait up to ``append_timeout`` for room, then drop the record;
        under ``every`` it waits until the record is written and synced. Once
        ``close()`` has begun, or after the disk failed, the record is dropped. Every
        drop is counted in :meth:`statistics` and logged.
        """
        pending = self._pending
        if len(pending) >= self._wake_at:  # a batch is ready, the queue is full, every, closing
            if self._closing or self._every or len(pending) >= self._max_pending:
                self._append_slowly(record)
                return
            if not self._wake.is_set():
                self._wake.set()
        pending.append(record)
        # close() (or a disk failure) sets _closing before the writer thread's last drain:
        # a record that raced past the checks above as it finished is swept here (_woken).
        if self._closing:
            self._woken()

    def _append_slowly(self, record: JournalRecord) -> None:
        if self._closing:
            self._counters.drop("closed" if self._failure is None else "unwritten", 1)
            return
        pending = self._pending
        if len(pending) >= self._max_pending and not self._wait_for_room():
            return
        pending.append(record)
        if not self._every:
            self._woken()
            return
        marker = _Flush()
        pending.append(marker)
        self._woken()
        if not marker.done.wait(self.config.append_timeout):
            self._counters.count_sync_timeout()

    def _woken(self) -> None:
        """Wake the writer thread for what was just queued; if it has already ended,
        sweep the queue instead (the record raced with close())."""
        if self._done.is_set():
            self._sweep()
        elif not self._wake.is_set():
            self._wake.set()

    def _wait_for_room(self) -> bool:
        """Wait until the queue has room; False (the record dropped) if it did not."""
        deadline = time.monotonic() + self.config.append_timeout
        with self._room:
            self._waiting += 1
            try:
                self._counters.count_wait()
                has_room = self._room.wait_for(self._room_or_end, deadline - time.monotonic())
            finally:
                self._waiting -= 1
        if self._closing:
            self._counters.drop("closed" if self._failure is None else "unwritten", 1)
            return False
        if not has_room:
            self._counters.drop("full", 1)
        return has_room

    def _room_or_end(self) -> bool:
        if self._closing:
            return True
        if len(self._pending) < self._max_pending:
            return True
        self._wake.set()  # the writer thread may be sleeping out its interval
        return False

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every record appended so far is written (and synced per policy).

        Returns False if ``timeout`` passed first. Once ``close()`` has begun, returns at
        once: True if close() has written and synced everything appended before it.
        """
        if self._closing:
            return self._closed_cleanly
        marker = _Flush()
        self._pending.append(marker)
        self._wake.set()
        if self._done.is_set():  # the writer thread ended while the marker was queued
            self._sweep()
        return marker.done.wait(timeout) and marker.written

    def close(self, timeout: float = 10.0) -> bool:
        """Write what was appended before, sync, and close the file, within ``timeout``.

        The writer thread writes what is queued, syncs and closes the file. close()
        returns when it has, or after ``timeout`` seconds: records still queued then are
        dropped (counted in ``dropped_unwritten``, logged as an error), and a write the
        OS has not finished is left to the writer thread, which closes the file when it
        returns. Records appended once close() has begun are dropped.

        Returns:
            True if everything appended before close() was written and synced.

        Raises:
            JournalError: the disk failed (now or earlier), so records were lost.
        """
        if self._close_called:
            self._done.wait(max(0.0, self._deadline - time.monotonic()))
            return self._closed_cleanly
        self._close_called = True
        self._deadline = time.monotonic() + max(0.0, timeout)
        self._closing = True
        self._wake_at = 0  # from now on every append() takes the slow path
        self._wake.set()
        with self._room:
            self._room.notify_all()  # appenders waiting for room give up
        finished = self._done.wait(max(0.0, timeout))
        if not finished:
            logger.error(
                "Journal {path}: close() gave up after {timeout:g} s with the writer thread "
                "still inside a write; the records it has not written are dropped (counted "
                "in statistics) and it closes the file when the write returns",
                path=self.path,
                timeout=timeout,
            )
        if self._failure is not None:
            raise JournalError(f"{self._failure} Records queued since were dropped.")
        return self._closed_cleanly

    def statistics(self) -> JournalStatistics:
        """Return the writer's counters."""
        waits, sync_timeouts, dropped = self._counters.snapshot()
        return JournalStatistics(
            path=self.config.path,
            frames=self.frames,
            bytes=self.bytes,
            fsyncs=self.fsyncs,
            pending=sum(1 for item in list(self._pending) if not isinstance(item, _Flush)),
            max_pending=self._max_pending,
            waits=waits,
            sync_timeouts=sync_timeouts,
            dropped=sum(dropped.values()),
            dropped_full=dropped["full"],
            dropped_invalid=dropped["invalid"],
            dropped_closed=dropped["closed"],
            dropped_unwritten=dropped["unwritten"],
        )

    # -- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        """The writer thread: drain on every wake-up, then write the rest, sync, close."""
        interval = self.config.batch_interval
        try:
            while not self._closing:
                self._wake.wait(interval)
                self._wake.clear()
                try:
                    self._drain()
                except JournalError:
                    raise
                except Exception:  # noqa: BLE001 - a bug: lose this drain, not the later ones
                    logger.opt(exception=True).critical(
                        "Journal {path}: unexpected error while writing; the writer goes on",
                        path=self.path,
                    )
            self._drain()
            self._sync()
            self._closed_cleanly = not self._counters.snapshot()[2]["unwritten"]
        except JournalError as exc:  # the disk failed: stop writing, keep counting
            self._failure = exc
            self._closing = True  # appends are dropped (counted) from now on
            self._wake_at = 0
            logger.opt(exception=True).critical("Journal {path} failed", path=self.path)
        finally:
            self._finish()

    def _finish(self) -> None:
        """Close the file, drop what is still queued (counted), release every waiter."""
        try:
            self._settle()  # after a bug in a drain, a batch may still be in flight
        except JournalError as exc:
            self._failure = self._failure or exc
        except Exception:  # noqa: BLE001 - a bug in an I/O step; its batch counted unwritten
            logger.opt(exception=True).critical("Journal {path}: unexpected error", path=self.path)
        if self._io is not None:
            self._io.stop()
            # Ended before the writer reports itself done, so that no thread of a closed
            # journal outlives close() (bounded: an fsync that never returns is left).
            self._io.thread.join(min(5.0, max(0.1, self._deadline - time.monotonic())))
        try:
            self._file.close()
        except OSError as exc:
            if self._failure is None:
                self._failure = JournalError(f"Cannot close journal {str(self.path)!r}: {exc}.")
            self._closed_cleanly = False
        self._sweep()
        self._counters.log_summary()
        self._done.set()
        self._sweep()  # what raced with the first sweep: appenders sweep after this themselves
        with self._room:
            self._room.notify_all()

    def _drain(self) -> None:
        """Write the records queued when the drain began, in batches of ``batch_frames``.

        Records queued meanwhile wait for the next wake-up (the interval, a full batch, a
        flush or an ``every`` append): a writer that chased every new record would write
        in tiny batches and contend for the interpreter with the actors that produce them.
        Once close() has begun and its deadline has passed, the rest is dropped.
        """
        pending = self._pending
        popleft = pending.popleft
        left = len(pending)
        while left:
            take = min(left, self.config.batch_frames)
            left -= take
            items = list(map(call, repeat(popleft, take)))  # a C loop: no bytecode per record
            if self._waiting and len(pending) <= self._low_water:
                with self._room:
                    self._room.notify_all()
            if self._closing and time.monotonic() > self._deadline:
                self._drop_items(items, "unwritten")
                continue
            self._write_batch(items)
        self._settle()

    def _write_batch(self, items: list[JournalRecord | _Flush]) -> None:
        """Encode and write one batch, then release its flush markers (under ``batch``
        the I/O thread writes and syncs it, and its markers are released once the next
        hand-over or :meth:`_settle` finds it synced). If the write fails (or a bug
        strikes), its records are counted as unwritten and its markers say so."""
        if _Flush in map(type, items):
            markers = [item for item in items if type(item) is _Flush]
            records = [item for item in items if type(item) is not _Flush]
        else:  # the usual case, found without bytecode per record
            markers, records = [], items
        lost = len(records)
        try:
            data = bytearray()
            count = 0
            if records:
                count, failed = encode_frames(records, data)  # type: ignore[arg-type]
                lost = count
                for record, exc in failed:
                    self._counters.drop("invalid", 1)
                    logger.opt(exception=exc).error("Journal could not encode {r!r}", r=record)
            if self._io is not None and count:  # the encoding overlapped the last fsync
                self._hand_over(data, count)
                self._in_flight, markers = (count, len(data), markers), []
            elif self._io is not None:
                self._settle()  # for this batch's markers: all before them is synced
            elif count:
                self._write(data, count, sync=self._sync_batches)
            lost = 0
        finally:
            if lost:
                self._counters.drop("unwritten", lost)
            for marker in markers:
                marker.written = not lost
                marker.done.set()

    def _write(self, data: bytes | bytearray, count: int, *, sync: bool) -> None:
        try:
            self._file.write(data)
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
                self.fsyncs += 1
        except OSError as exc:
            raise JournalError(f"Cannot write journal {str(self.path)!r}: {exc}.") from exc
        self.frames += count
        self.bytes += len(data)

    def _hand_over(self, data: bytearray, count: int) -> None:
        """Have the I/O thread write ``data`` (``count`` frames, maybe none), once the
        batch before is synced, and settle that batch; the I/O thread then syncs this one.

        Raises:
            JournalError: the write, or the fsync of the batch before, failed.
        """
        assert self._io is not None
        write = (lambda: self._write(data, count, sync=False)) if count else None
        synced_error, write_error = self._io.hand_over(write, self._sync if count else None)
        self._settle_in_flight(synced_error)
        if write_error is not None:
            raise write_error

    def _settle(self) -> None:
        """Wait until the batch the I/O thread may still be syncing is synced, and
        release its flush markers (see :meth:`_settle_in_flight`)."""
        if self._in_flight is not None:
            self._hand_over(bytearray(), 0)

    def _settle_in_flight(self, error: Exception | None) -> None:
        """Release the flush markers of the batch whose fsync has ended, with ``error``.

        Raises:
            JournalError: the fsync failed (or what a bug raised there): the batch's
                records are counted as unwritten.
        """
        if self._in_flight is None:
            return
        count, size, markers = self._in_flight
        self._in_flight = None
        if error is not None:  # as if the write had failed: the frames are not counted
            self.frames -= count
            self.bytes -= size
            self._counters.drop("unwritten", count)
        for marker in markers:
            marker.written = error is None
            marker.done.set()
        if error is not None:
            raise error

    def _sync(self) -> None:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise JournalError(f"Cannot sync journal {str(self.path)!r}: {exc}.") from exc
        self.fsyncs += 1

    # -- dropping ------------------------------------------------------------------------

    def _drop_items(self, items: list[JournalRecord | _Flush], cause: DropCause) -> None:
        records = 0
        for item in items:
            if type(item) is _Flush:
                item.written = False
                item.done.set()
            else:
                records += 1
        if records:
            self._counters.drop(cause, records)

    def _sweep(self) -> None:
        """Empty the queue once the writer thread is done: drop the records (counted)
        and release their flush() and ``every`` callers."""
        pending = self._pending
        items: list[JournalRecord | _Flush] = []
        while True:
            try:
                items.append(pending.popleft())
            except IndexError:
                break
        self._drop_items(items, "closed" if self._failure is None else "unwritten")
