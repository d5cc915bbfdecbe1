"""The ``actorflow`` command line: the only code that prints, exits or sets log sinks."""

from __future__ import annotations

from actorflow.cli.app import app, main

__all__ = ["app", "main"]
