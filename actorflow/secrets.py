"""Keeping secrets out of what actorflow writes: journal, logs, stream events, errors.

The redaction rule (documented in ``docs/secrets.md``):

1. **By field name.** A mapping value whose key, lowercased with ``-`` read as ``_``,
   is one of :data:`SENSITIVE_NAMES` (``api_key``, ``authorization``, ``token``,
   ``secret``, ``password``, ``cookie`` ...) or ends with one of
   :data:`SENSITIVE_SUFFIXES` (``_api_key``, ``_token``, ``_secret``, ``_password``
   ...) is replaced by :data:`REDACTED`. In text, ``name=value`` / ``name: value``
   with such a name, and ``Bearer <token>``, lose the value the same way; an
   ``Authorization: <scheme> <credentials>`` header loses scheme and credentials.
2. **By value.** Every string registered with :func:`register_secret` (model clients
   register their API keys themselves) is replaced by :data:`REDACTED` wherever it
   appears, in any field (mapping keys included), inside any text.

Where it applies:

- the journal (every record, by value; effect records and dead letters also by name),
  see :mod:`actorflow.journal.format`;
- log records of the modules that log through :func:`redacting_logger` (the model
  layer does), and every record once :func:`install_log_redaction` ran;
- stream events, effect records and error messages the model layer builds.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from loguru import logger

from actorflow.errors import ConfigurationError

if TYPE_CHECKING:
    from loguru import Logger, Record

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SENSITIVE_NAMES",
    "SENSITIVE_SUFFIXES",
    "install_log_redaction",
    "is_sensitive_name",
    "redact",
    "redact_log_record",
    "redact_text",
    "redacting_logger",
    "register_secret",
    "secret_count",
    "secret_needles",
    "unregister_secret",
]

REDACTED: Final = "[REDACTED]"
"""What a secret is replaced by."""

MIN_SECRET_LENGTH: Final = 6
"""Shortest value :func:`register_secret` accepts: a shorter one would blank out
ordinary words wherever they appear."""

SENSITIVE_NAMES: Final = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "auth",
        "auth_token",
        "authorization",
        "bearer",
        "client_secret",
        "cookie",
        "credential",
        "credentials",
        "id_token",
        "passwd",
        "password",
        "private_key",
        "proxy_authorization",
        "refresh_token",
        "secret",
        "secret_key",
        "session_token",
        "set_cookie",
        "token",
        "x_api_key",
    }
)
"""Field names whose values are always redacted (lowercase, ``-`` read as ``_``)."""

SENSITIVE_SUFFIXES: Final = ("_api_key", "_apikey", "_password", "_passwd", "_secret", "_token")
"""A field name ending with one of these is sensitive too (``openai_api_key``,
``github_token``); ``max_tokens`` and ``prompt_tokens`` are not."""

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_needles: tuple[bytes, ...] = ()
_value_pattern: re.Pattern[str] | None = None

_NAMES_ALTERNATION = "|".join(
    sorted({*SENSITIVE_NAMES, *(n.replace("_", "-") for n in SENSITIVE_NAMES)}, key=len)[::-1]
)


def _whole_value(match: re.Match[str]) -> str:
    """``name: [REDACTED]`` for a header's whole value (a quoted value keeps its quotes)."""
    head, value = match.group(1), match.group(2)
    quote = value[:1]
    if quote not in ("'", '"'):
        return head + REDACTED
    return head + quote + REDACTED + (quote if len(value) > 1 and value.endswith(quote) else "")


_QUOTED = r"\"(?:[^\"\\\r\n]|\\.)*\"?|'[^'\r\n]*'?"
_PARAM = r"[A-Za-z0-9!#$%*+.^_`|~-]+[ \t]*=[ \t]*(?:\"(?:[^\"\\\r\n]|\\.)*\"?|[^\s,\"']*)"
_CREDENTIAL = r"[^\s\"',;&}]+"
_TEXT_RULES: Final = (
    # Bearer / Basic credentials in a header or a message.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 " + REDACTED),
    # An Authorization header loses its whole value whatever the scheme: 'Token <cred>',
    # 'Digest username="..", response=".."', 'ApiKey <cred>', a quoted value.
    (
        re.compile(
            r"(?i)(\b(?:proxy[_-])?authorization\b[\"']?[ \t]*[:=][ \t]*)"
            r"(?![\"']?(?:(?:bearer|basic)\s+)?\[REDACTED\])"
            r"(" + _QUOTED + r"|[A-Za-z][A-Za-z0-9!#$%&*+.^_`|~-]*[ \t]+"
            r"(?:" + _PARAM + r"(?:[ \t]*,[ \t]*" + _PARAM + r")*|" + _CREDENTIAL + r")"
            r"|" + _CREDENTIAL + r")"
        ),
        _whole_value,
    ),
    # name=value, name: value, "name": "value" (JSON-ish), for sensitive names and suffixes.
    (
        re.compile(
            r"(?i)(\b(?:[a-z0-9]+[_-])*(?:" + _NAMES_ALTERNATION + r")\b[\"']?\s*[:=]\s*[\"']?)"
            r"(?!\[REDACTED\]|(?:bearer|basic)\s)[^\s\"',;&}]+"
        ),
        r"\1" + REDACTED,
    ),
)


def is_sensitive_name(name: str) -> bool:
    """Whether a field called ``name`` holds a secret by the name rule."""
    known = _names.get(name)
    if known is None:
        norm = name.strip().lower().replace("-", "_")
        known = norm in SENSITIVE_NAMES or norm.endswith(SENSITIVE_SUFFIXES)
        if len(_names) < _MAX_NAMES:  # field names repeat: a bounded cache
            _names[name] = known
    return known


_names: dict[str, bool] = {}
_MAX_NAMES = 10_000


def register_secret(value: str | Any) -> None:
    """Redact ``value`` (a string, or a pydantic ``SecretStr``) wherever actorflow writes
    it from now on: journal records, log records, stream events, error messages.

    Raises:
        ConfigurationError: ``value`` is not a string, or shorter than
            :data:`MIN_SECRET_LENGTH` characters.
    """
    text = _plain(value)
    if len(text) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"A secret must be at least {MIN_SECRET_LENGTH} characters long to be redacted "
            f"safely (got {len(text)}); a shorter one would blank out ordinary text."
        )
    with _lock:
        _set(_secrets | {text})


def unregister_secret(value: str | Any) -> bool:
    """Stop redacting ``value``; return whether it was registered."""
    text = _plain(value)
    with _lock:
        known = text in _secrets
        _set(_secrets - {text})
    return known


def secret_count() -> int:
    """How many secret values are registered."""
    return len(_secrets)


def secret_needles() -> tuple[bytes, ...]:
    """The registered secrets as UTF-8 bytes (what the journal writer searches for)."""
    return _needles


def redact_text(text: str) -> str:
    """Return ``text`` with registered secrets and ``name=value`` / ``Bearer`` credentials
    replaced by :data:`REDACTED`."""
    pattern = _value_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for rule, replacement in _TEXT_RULES:
        text = rule.sub(replacement, text)
    return text


def redact(value: Any, *, names: bool = True) -> Any:
    """Return a copy of JSON-like ``value`` with secrets redacted: values under sensitive
    field names (unless ``names`` is false) and registered secret values inside any
    string. Values that hold no secret come back unchanged (the same object)."""
    kind = type(value)
    if kind is str:
        return _redact_string(value) if _value_pattern is not None else value
    if kind is dict or (kind not in _SCALARS and isinstance(value, Mapping)):
        return _redact_mapping(value, names)
    if kind is list or kind is tuple or (kind not in _SCALARS and isinstance(value, list | tuple)):
        items = [redact(item, names=names) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    if kind not in _SCALARS and isinstance(value, str):
        return _redact_string(value) if _value_pattern is not None else value
    return value


_SCALARS: Final = frozenset({int, float, bool, type(None), bytes})


def _redact_mapping(value: Mapping[Any, Any], names: bool) -> Any:
    changed = False
    out: dict[Any, Any] = {}
    pattern = _value_pattern
    for original_key, item in value.items():
        key = original_key
        if names and type(key) is str and is_sensitive_name(key) and item not in ("", None):
            new: Any = REDACTED
        elif type(item) in _SCALARS:
            new = item
        else:
            new = redact(item, names=names)
        changed = changed or new is not item
        if pattern is not None and isinstance(key, str):
            redacted_key = pattern.sub(REDACTED, key)
            if redacted_key != key:  # a secret used as a key (a per-token cache...)
                key = _free_key(out, value, redacted_key)
                changed = True
        out[key] = new
    return out if changed else value


def _free_key(out: Mapping[Any, Any], original: Mapping[Any, Any], key: str) -> str:
    """``key``, or ``key`` numbered (``[REDACTED]#2``...) if the mapping has it already:
    two keys redacted alike keep both their values."""
    number = 1
    candidate = key
    while candidate in out or candidate in original:
        number += 1
        candidate = f"{key}#{number}"
    return candidate


def redact_log_record(record: Record) -> None:
    """A loguru patcher: redact a record's message and its ``extra`` values."""
    record["message"] = redact_text(record["message"])
    extra = record["extra"]
    for key, item in list(extra.items()):
        if is_sensitive_name(key):
            extra[key] = REDACTED
        elif isinstance(item, str):
            extra[key] = redact_text(item)
        else:
            extra[key] = redact(item)


def redacting_logger() -> Logger:
    """A loguru logger whose records are redacted before any sink sees them (for library
    modules that may log model or tool data)."""
    return logger.patch(redact_log_record)


def install_log_redaction() -> None:
    """Redact every loguru record of the process (actorflow's and the application's) with
    :func:`redact_log_record`, by setting loguru's global patcher. The CLI calls it;
    an application that sets its own patcher should call :func:`redact_log_record` in it.
    """
    logger.configure(patcher=redact_log_record)


def _redact_string(text: str) -> str:
    pattern = _value_pattern
    return text if pattern is None else pattern.sub(REDACTED, text)


def _plain(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else value
    if not isinstance(text, str):
        raise ConfigurationError(
            f"A secret must be a string (or a SecretStr), got a {type(value).__name__}."
        )
    return text


def _set(secrets: frozenset[str]) -> None:
    global _secrets, _needles, _value_pattern  # noqa: PLW0603 - one registry per process
    ordered = sorted(secrets, key=len, reverse=True)  # longest first: no partial leftovers
    _needles = tuple(s.encode("utf-8") for s in ordered)
    _value_pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
    _secrets = secrets
