"""Log sinks for the CLI: loguru on, stdlib logging (pykka's) routed into loguru."""

from __future__ import annotations

import logging
from pathlib import Path

from loguru import logger

from actorflow.secrets import install_log_redaction

__all__ = ["configure_logging"]


class _ToLoguru(logging.Handler):
    """Forward stdlib log records (pykka logs to "pykka") to loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def configure_logging(log_file: Path, stderr_level: str | None) -> None:
    """Enable actorflow's logs: everything to ``log_file``, ``stderr_level`` and up to stderr."""
    logger.remove()
    install_log_redaction()  # registered secrets and credential fields never reach a sink
    logger.enable("actorflow")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    logger.add(log_file, level="DEBUG", enqueue=True, backtrace=False)
    if stderr_level is not None:
        import sys

        logger.add(sys.stderr, level=stderr_level.upper(), backtrace=False)
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.INFO, force=True)
