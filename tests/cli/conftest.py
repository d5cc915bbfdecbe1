"""Fixtures of the CLI tests: ``actorflow`` run in a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_COLUMNS, _ROWS = 200, 50
_DEADLINE = 60.0
"""Most seconds a command in the terminal may take (a hang fails the test)."""
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\r")
"""Escape sequences (colours, cursor moves, window titles) and carriage returns."""


@dataclass(frozen=True)
class Terminal:
    """What a command did in the pseudo-terminal."""

    exit_code: int
    raw: str
    """Everything it wrote, escape sequences included."""

    @property
    def text(self) -> str:
        """The output without escape sequences."""
        return _CONTROL.sub("", self.raw)

    @property
    def flat(self) -> str:
        """The text with table borders gone and whitespace runs made one space."""
        return " ".join(self.text.replace("│", " ").replace("┃", " ").split())


def _read_all(fd: int, proc: subprocess.Popen[bytes], deadline: float) -> bytes:
    """Read the terminal until the command closed it (EIO on Linux) or ``deadline``."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            proc.kill()
            pytest.fail(f"the command did not end within {_DEADLINE:g} s: {b''.join(chunks)!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every writer of the terminal closed it
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


@pytest.fixture
def run_in_terminal(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    """Run ``actorflow ARGS...`` with a pseudo-terminal of 200 by 50 as its stdin, stdout
    and stderr (in ``tmp_path``); return what it wrote and its exit code."""
    started: list[subprocess.Popen[bytes]] = []

    def run(*args: str) -> Terminal:
        main_fd, side_fd = pty.openpty()
        fcntl.ioctl(side_fd, termios.TIOCSWINSZ, struct.pack("HHHH", _ROWS, _COLUMNS, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR"}}
        env.update(TERM="xterm-256color", COLUMNS=str(_COLUMNS), LINES=str(_ROWS))
        command = [sys.executable, "-c", "from actorflow.cli import main; main()", *args]
        try:
            proc = subprocess.Popen(command, stdin=side_fd, stdout=side_fd, stderr=side_fd,
                                    cwd=tmp_path, env=env, start_new_session=True)  # fmt: skip
        finally:
            os.close(side_fd)
        started.append(proc)
        try:
            raw = _read_all(main_fd, proc, time.monotonic() + _DEADLINE)
        finally:
            os.close(main_fd)
        return Terminal(proc.wait(timeout=_DEADLINE), raw.decode("utf-8", "replace"))

    yield run
    for proc in started:  # a failed assertion above must not leave the process behind
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=_DEADLINE)
