"""OpenAIModelClient against a local fake server: answers, streams, tool calls, errors,
retries and timeouts on the clock."""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import actorflow
from actorflow import FakeClock
from actorflow.errors import ConfigurationError
from actorflow.models import (
    ModelRequestError,
    ModelResponseError,
    ModelTimeoutError,
    ModelUnavailableError,
    OpenAIModelClient,
    OpenAINotInstalledError,
    ToolCall,
    ToolSpec,
    Usage,
)
from tests.models.conftest import KEY
from tests.models.fake_openai import FakeOpenAI, chunks, completion


def client(server: FakeOpenAI, **options: Any) -> OpenAIModelClient:
    return OpenAIModelClient(
        "fake-model", base_url=server.base_url, api_key=KEY, retry_delay=0, **options
    )


def wait_for_deadline(clock: FakeClock, deadline: float, timeout: float = 5.0) -> bool:
    """Wait until a timer is pending for ``deadline`` (monotonic) on ``clock``."""

    def armed() -> bool:
        heap = clock._timers._heap
        return any(h.deadline == deadline and not h.is_cancelled for *_, h in heap)

    with clock._scheduled:
        return clock._scheduled.wait_for(armed, timeout)


async def call(model: OpenAIModelClient, *args: object, **options: object) -> object:
    return await model.complete(*args, **options)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_an_answer_comes_back_with_its_usage_and_the_key_goes_to_the_server(
    server: FakeOpenAI,
) -> None:
    server.reply(completion("Paris.", reasoning="The capital.", prompt_tokens=12))

    response = await call(client(server), "Capital of France?", temperature=0.0)

    assert response.content == "Paris."  # type: ignore[attr-defined]
    assert response.thinking == "The capital."  # type: ignore[attr-defined]
    assert response.usage == Usage(prompt_tokens=12, completion_tokens=5, total_tokens=17)  # type: ignore[attr-defined]
    got = server.requests[0]
    assert got.path == "/v1/chat/completions"
    assert got.headers["authorization"] == f"Bearer {KEY}"
    assert got.body["model"] == "fake-model"
    assert got.body["temperature"] == 0.0
    assert got.body["messages"] == [{"role": "user", "content": "Capital of France?"}]


@pytest.mark.asyncio
async def test_a_streamed_answer_yields_thinking_then_text_then_the_whole_response(
    server: FakeOpenAI,
) -> None:
    server.stream(chunks(["Hel", "lo"], thinking=["hmm"], usage=(7, 3)))
    model = client(server)

    pieces = [c async for c in model.stream("Say hello")]

    assert [(p.type, p.text) for p in pieces[:-1]] == [
        ("thinking", "hmm"),
        ("text", "Hel"),
        ("text", "lo"),
    ]
    done = pieces[-1].response
    assert done is not None
    assert (done.content, done.thinking, done.usage.total_tokens) == ("Hello", "hmm", 10)
    assert server.requests[0].body["stream"] is True
    assert server.requests[0].body["stream_options"] == {"include_usage": True}


@pytest.mark.asyncio
async def test_tool_calls_are_parsed_from_answers_and_from_streamed_deltas(
    server: FakeOpenAI,
) -> None:
    server.reply(completion(None, tool_calls=[("call_1", "add", {"a": 1, "b": 2})]))
    server.stream(chunks([], tool_call=("call_2", "add", '{"a": 3, "b": 4}')))
    spec = ToolSpec(
        name="add",
        description="Add two numbers.",
        parameters={"type": "object", "properties": {"a": {}, "b": {}}},
    )
    model = client(server)

    plain = await model.complete("1+2?", [spec])
    streamed = await model.complete("3+4?", [spec], stream=True)

    assert plain.tool_calls == (ToolCall(id="call_1", name="add", arguments={"a": 1, "b": 2}),)
    assert streamed.tool_calls == (ToolCall(id="call_2", name="add", arguments={"a": 3, "b": 4}),)
    assert server.requests[0].body["tools"][0]["function"]["name"] == "add"


def _malformed(choice: dict[str, Any]) -> dict[str, Any]:
    body = completion("x")
    body["choices"] = [choice]
    return body


def _chunk(choice: dict[str, Any]) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
            "choices": [choice]}  # fmt: skip


_CALL_WITHOUT_NAME = {"id": "c1", "type": "function", "function": {"name": None, "arguments": "{}"}}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        _malformed({"index": 0, "finish_reason": "stop"}),
        _malformed({"index": 0, "message": None, "finish_reason": "stop"}),
        _malformed(
            {"index": 0, "message": {"role": "assistant", "tool_calls": [_CALL_WITHOUT_NAME]}}
        ),
        _malformed({"index": 0, "message": {"role": "assistant", "tool_calls": [{"id": "c1"}]}}),
        _malformed({"index": 0, "message": {"role": "assistant", "content": ["not", "text"]}}),
    ],
    ids=["no-message", "null-message", "null-tool-name", "no-function", "content-not-text"],
)
async def test_a_malformed_answer_is_a_model_response_error(
    server: FakeOpenAI, body: dict[str, Any]
) -> None:
    server.reply(body)

    with pytest.raises(ModelResponseError, match="fake-model"):
        await call(client(server), "hi")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "events",
    [
        [_chunk({"index": 0, "finish_reason": None})],
        [_chunk({"index": 0, "delta": {"tool_calls": [{"index": None, "id": "a"}]}}),
         _chunk({"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "b"}]}})],
    ],
    ids=["no-delta", "tool-call-without-index"],
)  # fmt: skip
async def test_a_malformed_stream_is_a_model_response_error(
    server: FakeOpenAI, events: list[dict[str, Any]]
) -> None:
    server.stream(events)

    with pytest.raises(ModelResponseError, match="fake-model"):
        await call(client(server), "hi", stream=True)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "arguments",
    ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e999}', "[" * 100_000, "{"],
)
async def test_tool_call_arguments_that_are_not_json_data_are_refused(
    server: FakeOpenAI, arguments: str
) -> None:
    call_ = {"id": "c1", "type": "function", "function": {"name": "t", "arguments": arguments}}
    server.reply(_malformed({"index": 0, "message": {"role": "assistant", "tool_calls": [call_]}}))

    with pytest.raises(ModelResponseError, match="arguments that are not JSON"):
        await call(client(server), "hi")


@pytest.mark.asyncio
async def test_errors_name_the_endpoint_without_its_credentials(server: FakeOpenAI) -> None:
    server.fail(403, f"key {KEY} is not allowed")
    url = server.base_url.replace("http://", "http://user:hunter2-pw@") + "?token=t0k3n-42"
    model = OpenAIModelClient("fake-model", base_url=url, api_key=KEY, max_retries=0)

    with pytest.raises(ModelRequestError) as caught:
        await call(model, "hi")

    text = f"{caught.value} {model!r}"
    assert "answered HTTP 403" in text
    assert server.base_url.split("//")[1] in text  # host, port and path stay
    assert not [s for s in (KEY, "hunter2-pw", "t0k3n-42") if s in text]


@pytest.mark.asyncio
async def test_a_4xx_answer_is_not_retried(server: FakeOpenAI) -> None:
    server.fail(400, "unknown model")
    server.reply(completion("never sent"))

    with pytest.raises(ModelRequestError, match=r"^Model 'fake-model' at .* answered HTTP 400"):
        await call(client(server, max_retries=3), "hi")

    assert len(server.requests) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [500, 503, 429, 408])
async def test_5xx_429_and_408_are_retried_until_an_answer(server: FakeOpenAI, status: int) -> None:
    server.fail(status)
    server.fail(status)
    server.reply(completion("at last"))

    response = await call(client(server, max_retries=2), "hi")

    assert response.content == "at last"  # type: ignore[attr-defined]
    assert len(server.requests) == 3


@pytest.mark.asyncio
async def test_retries_run_out_with_a_retryable_error(server: FakeOpenAI) -> None:
    for _ in range(3):
        server.fail(502, "bad gateway")

    with pytest.raises(ModelUnavailableError, match="answered HTTP 502") as caught:
        await call(client(server, max_retries=2), "hi")

    assert caught.value.retryable is True
    assert caught.value.status_code == 502
    assert len(server.requests) == 3


def test_the_wait_between_retries_is_timed_on_the_clock(server: FakeOpenAI) -> None:
    clock = FakeClock()
    server.fail(500)
    server.reply(completion("after the wait"))
    model = client(server, clock=clock)
    model.retry_delay = 2.0
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(asyncio.run(call(model, "hi"))))
    thread.start()

    server.wait_for_requests(1)
    assert wait_for_deadline(clock, 2.0)  # the retry waits on the clock
    assert len(server.requests) == 1  # nothing is sent before the clock moves
    clock.advance(2.0)
    thread.join(10)

    assert [getattr(o, "content", o) for o in outcome] == ["after the wait"]
    assert len(server.requests) == 2


def test_a_slow_answer_times_out_on_the_clock(server: FakeOpenAI) -> None:
    clock = FakeClock()
    release = threading.Event()
    server.reply(completion("too late"), hold=release)
    model = client(server, clock=clock, timeout=30.0, max_retries=0)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(call(model, "hi"))
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    server.wait_for_requests(1)
    assert clock.wait_for_timers(1, timeout=5)
    clock.advance(29.0)
    assert thread.is_alive()  # not yet
    clock.advance(1.0)
    thread.join(10)
    release.set()

    assert len(outcome) == 1
    assert isinstance(outcome[0], ModelTimeoutError)
    assert "gave no answer within 30 s" in str(outcome[0])
    assert outcome[0].retryable is True


def test_configuration_comes_from_the_environment(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTORFLOW_MODEL", "env-model")
    monkeypatch.setenv("ACTORFLOW_MODEL_BASE_URL", server.base_url)
    monkeypatch.setenv("ACTORFLOW_MODEL_API_KEY", KEY)
    monkeypatch.setenv("ACTORFLOW_MODEL_TIMEOUT", "12.5")
    server.reply(completion("ok"))

    model = OpenAIModelClient()
    asyncio.run(call(model, "hi"))

    assert (model.model, model.base_url, model.timeout) == ("env-model", server.base_url, 12.5)
    assert server.requests[0].body["model"] == "env-model"
    assert KEY not in repr(model)


def test_a_missing_key_or_model_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACTORFLOW_MODEL_API_KEY", "OPENAI_API_KEY", "ACTORFLOW_MODEL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ConfigurationError, match=r"^No API key for model 'm'"):
        OpenAIModelClient("m")
    with pytest.raises(ConfigurationError, match="needs a model name"):
        OpenAIModelClient(api_key=KEY)


def test_without_the_openai_package_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)

    with pytest.raises(OpenAINotInstalledError, match=r"pip install actorflow\[openai\]"):
        OpenAIModelClient("m", api_key=KEY)


def test_only_the_openai_client_module_imports_openai() -> None:
    package = Path(actorflow.__file__).parent
    imports = re.compile(r"^\s*(import openai\b|from openai\b)", re.MULTILINE)
    importers = [
        path.relative_to(package).as_posix()
        for path in sorted(package.rglob("*.py"))
        if imports.search(path.read_text(encoding="utf-8"))
    ]

    assert importers == ["models/openai_client.py"]
