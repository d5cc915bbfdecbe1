"""The redaction rule (by field name, by registered value) and where it applies:
journal records, log records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from actorflow import ActorSystem, JournalConfig
from actorflow.errors import ConfigurationError
from actorflow.flow.messages import AgentTask
from actorflow.journal import open_journal
from actorflow.journal.format import JournalEvent
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import EffectRecorded
from actorflow.runtime.behaviour import recipe
from actorflow.secrets import (
    REDACTED,
    is_sensitive_name,
    redact,
    redact_log_record,
    redact_text,
    redacting_logger,
    register_secret,
    secret_count,
    unregister_secret,
)
from tests.support import Log, Work, Worker

SECRET = "s3cr3t-value-0042"  # noqa: S105 - a made-up secret to look for


@pytest.fixture
def secret() -> Iterator[str]:
    register_secret(SECRET)
    yield SECRET
    unregister_secret(SECRET)


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "API-KEY",
        "Authorization",
        "token",
        "access_token",
        "github_token",
        "client_secret",
        "password",
        "db_password",
        "Set-Cookie",
        "x-api-key",
    ],
)
def test_sensitive_names(name: str) -> None:
    assert is_sensitive_name(name)


@pytest.mark.parametrize(
    "name", ["max_tokens", "prompt_tokens", "total_tokens", "keyword", "author", "idempotency_key"]
)
def test_ordinary_names(name: str) -> None:
    assert not is_sensitive_name(name)


def test_redact_by_name_and_by_value(secret: str) -> None:
    data = {
        "headers": {"Authorization": "Bearer abc", "accept": "json"},
        "usage": {"prompt_tokens": 3},
        "note": f"the key is {secret}!",
        "items": [secret, 1, None],
        "token": "",
    }

    assert redact(data) == {
        "headers": {"Authorization": REDACTED, "accept": "json"},
        "usage": {"prompt_tokens": 3},
        "note": f"the key is {REDACTED}!",
        "items": [REDACTED, 1, None],
        "token": "",
    }
    clean = {"a": [1, "x"]}
    assert redact(clean) is clean


def test_redact_text_hides_credentials_in_prose(secret: str) -> None:
    text = (
        f"GET /?api_key=abc123 with Authorization: Bearer tok.en-42 and {secret}; password=hunter22"
    )

    assert redact_text(text) == (
        f"GET /?api_key={REDACTED} with Authorization: Bearer {REDACTED} and {REDACTED}; "
        f"password={REDACTED}"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sent Authorization: Token gh-abcdef123456", f"sent Authorization: {REDACTED}"),
        ("Proxy-Authorization: ApiKey k-123456 ; next", f"Proxy-Authorization: {REDACTED} ; next"),
        ("authorization=SSWS 00abc&page=2", f"authorization={REDACTED}&page=2"),
        ("authorization=00abc&page=2", f"authorization={REDACTED}&page=2"),
        (
            'Authorization: Digest username="u", realm="r", response="6629fae4"\nnext',
            f"Authorization: {REDACTED}\nnext",
        ),
        ('{"authorization": "Token abc123", "a": 1}', f'{{"authorization": "{REDACTED}", "a": 1}}'),
        ("{'Authorization': 'Digest a=\"b\", c=d'}", f"{{'Authorization': '{REDACTED}'}}"),
        ("Authorization: Bearer tok.en-42", f"Authorization: Bearer {REDACTED}"),
        ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: Basic {REDACTED}"),
        ("Authorization: Bearer abc then", f"Authorization: {REDACTED} then"),
        ("the author: someone", "the author: someone"),
    ],
)  # fmt: skip
def test_an_authorization_header_loses_its_whole_value(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_a_secret_used_as_a_mapping_key_is_redacted(secret: str) -> None:
    other = "0ther-s3cret-0043"
    register_secret(other)
    try:
        data = {secret: "alice", other: "bob", f"user:{secret}": 1, "plain": {secret: [secret]}}

        assert redact(data, names=False) == {
            REDACTED: "alice",
            f"{REDACTED}#2": "bob",  # two keys redacted alike both stay
            f"user:{REDACTED}": 1,
            "plain": {REDACTED: [REDACTED]},
        }
    finally:
        unregister_secret(other)


def test_short_or_non_string_secrets_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least 6 characters"):
        register_secret("abc")
    with pytest.raises(ConfigurationError, match="must be a string"):
        register_secret(123456789)
    before = secret_count()
    assert unregister_secret("never-registered") is False
    assert secret_count() == before


def test_a_registered_secret_never_reaches_the_journal(tmp_path: Path, secret: str) -> None:
    path = tmp_path / "run.afj"
    log = Log()
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        worker = system.spawn(recipe(Worker, log), "worker")
        task = AgentTask(flow_id="f", step_id="s", task=f"use {secret}", parameters={"n": 1})
        system.tell(worker, task)  # a delivery: the writer's hot path
        system.tell(worker, Work(n=1))
        log.wait_for(("/agents/worker", 1))
        system.emit(
            EffectRecorded(
                actor=worker,
                effect="tool",
                name="t",
                value={"echo": f"key={secret}", "api_key": "k-123456"},
            )
        )
        assert system.journal is not None
        assert system.journal.flush(5)
        data = path.read_bytes()
        with open_journal(path) as reader:
            records = list(reader)

    assert secret.encode() not in data
    assert b"k-123456" not in data
    tasks = [
        r.message for r in records if isinstance(r, Envelope) and isinstance(r.message, AgentTask)
    ]
    assert [t.task for t in tasks] == [f"use {REDACTED}"]  # the frame still decodes
    effects = [
        r.message
        for r in records
        if isinstance(r, JournalEvent)
        and isinstance(r.message, EffectRecorded)
        and r.message.effect == "tool"
    ]
    assert effects[0].value == {"echo": f"key={REDACTED}", "api_key": REDACTED}


def test_redacting_logger_hides_secrets_from_every_sink(secret: str) -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), format="{message} {extra}", level="TRACE")
    logger.enable("tests")
    try:
        redacting_logger().info("calling with {key}", key=secret, api_key="abc-123456")
    finally:
        logger.remove(sink)

    assert lines
    assert secret not in lines[0]
    assert "abc-123456" not in lines[0]


def test_the_log_patcher_redacts_message_and_extra(secret: str) -> None:
    record: dict[str, object] = {
        "message": f"x {secret}",
        "extra": {"token": "t-999999", "data": {"k": secret}},
    }

    redact_log_record(record)  # type: ignore[arg-type]

    assert record == {
        "message": f"x {REDACTED}",
        "extra": {"token": REDACTED, "data": {"k": REDACTED}},
    }
