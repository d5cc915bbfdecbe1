"""Regressions from the adversarial review of durable human requests, MCP, models and
secrets (issues 13 phase 2 and 15): B1..Bn.

Each test shows one defect; all are fixed (the comment above each names it).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from loguru import logger
from typer.testing import CliRunner

from actorflow.cli import app
from actorflow.errors import ConfigurationError
from actorflow.human import HumanCallbackType, HumanRequest, PendingRecord
from actorflow.human.durable import record_status
from actorflow.stores import HumanRequestPut, SqliteStore


def _keep(path: Path, request: HumanRequest, *, deadline: float) -> None:
    """Store an open request as a durable gateway would."""
    record = PendingRecord.model_validate(
        {"request": request, "deadline": deadline, "asked_at": time.time()}
    )
    put = HumanRequestPut(
        request_id=request.request_id, status=record_status(record), deadline=deadline,
        asked_at=record.asked_at, record=record.model_dump(mode="json"),
        flow_id=request.flow_id, step_id=request.step_id,
    )  # fmt: skip
    with SqliteStore(path) as store:
        store.commit((put,))


def _request(request_id: str, **fields: object) -> HumanRequest:
    values: dict[str, object] = {
        "request_id": request_id,
        "type": HumanCallbackType.CONFIRM,
        "message": "Proceed?",
        "flow_id": "f1",
        "step_id": "s1",
    }
    values.update(fields)
    return HumanRequest.model_validate(values)


# B1 (fixed): `actorflow pending` crashes on a far-future deadline
def test_b1_pending_lists_a_request_with_a_far_future_deadline(tmp_path: Path) -> None:
    """The adversary sends a human request with a huge but finite timeout (1e15 s:
    check_request accepts any finite, non-negative timeout), so the durable gateway
    stores a deadline past year 9999. `actorflow pending` then dies with ValueError
    from datetime.fromtimestamp and lists none of the open requests (not even the
    ordinary ones). It should list every request (showing the far deadline as such),
    or the gateway should refuse a timeout it cannot show."""
    path = tmp_path / "store.db"
    _keep(path, _request("ordinary"), deadline=time.time() + 3600)
    _keep(path, _request("far", timeout=1e15), deadline=time.time() + 1e15)
    result = CliRunner().invoke(app, ["pending", "--store", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 0
    assert "ordinary" in result.output


# B2 (fixed): `actorflow answer` with deeply nested JSON raises RecursionError
def test_b2_answer_with_deeply_nested_json_is_a_typed_refusal(tmp_path: Path) -> None:
    """The adversary answers an input request with '[' * 100000 on the command line.
    parse_cli_value calls json.loads, which raises RecursionError (not ValueError), so
    the CLI dies with an untyped exception and a traceback instead of printing
    'error: ...'. It should either take the text as text or refuse it with
    InvalidHumanAnswerError (exit 1, the request stays open)."""
    path = tmp_path / "store.db"
    _keep(path, _request("r1", type=HumanCallbackType.INPUT), deadline=time.time() + 3600)
    result = CliRunner().invoke(app, ["answer", "r1", "[" * 100_000, "--store", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# B3 (fixed): close() during a connect retry hands the caller a bare CancelledError
def test_b3_close_during_connect_fails_the_call_with_a_typed_error() -> None:
    """The adversary calls a tool of an MCP server that is down (the client is retrying
    its connect with backoff) and closes the client meanwhile (shutdown of the app).
    _shutdown cancels the connecting task; _ensure awaits it through asyncio.shield, so
    the call's task is cancelled and the caller gets asyncio.CancelledError: a
    BaseException that a flow step (or any asyncio caller) reads as its own
    cancellation. The call should fail with MCPConnectionError (or ConfigurationError:
    the client is closed)."""
    from actorflow.mcp import Backoff, MCPConnectionError, create_production_client

    async def scenario() -> BaseException | None:
        failed = threading.Event()
        sink = logger.add(
            lambda m: failed.set() if "MCP connect failed" in m else None, level="WARNING"
        )
        logger.enable("actorflow")
        try:
            client = await create_production_client(
                f"http://127.0.0.1:{_free_port()}", backoff=Backoff(initial=30, attempts=3)
            )
            call = asyncio.ensure_future(client.call_tool("add", {"a": 1, "b": 2}))
            seen = await asyncio.get_running_loop().run_in_executor(None, failed.wait, 5.0)
            assert seen, "the first connect never failed"
            await client.close()
            try:
                await asyncio.wait_for(call, 5.0)
            except BaseException as exc:  # noqa: BLE001 - the point of the test
                return exc
            return None
        finally:
            logger.disable("actorflow")
            logger.remove(sink)

    outcome = asyncio.run(scenario())
    assert isinstance(outcome, (MCPConnectionError, ConfigurationError)), repr(outcome)


def _completion_body(choice: dict[str, object]) -> dict[str, object]:
    return {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": [choice]}


def _complete_against(body: dict[str, object]) -> BaseException | None:
    """Ask a fake OpenAI-compatible server that answers ``body``; return what is raised."""
    from actorflow.models import OpenAIModelClient
    from actorflow.secrets import unregister_secret
    from tests.models.fake_openai import fake_openai

    key = "sk-review-b-key"

    async def scenario() -> BaseException | None:
        with fake_openai() as server:
            client = OpenAIModelClient("m", base_url=server.base_url, api_key=key, retry_delay=0)
            server.reply(body)
            try:
                await client.complete([{"role": "user", "content": "hi"}])
            except Exception as exc:  # noqa: BLE001 - the point of the test
                return exc
            return None

    try:
        return asyncio.run(scenario())
    finally:
        unregister_secret(key)


# B4 (fixed): a malformed completion raises AttributeError, not ModelResponseError
def test_b4_a_completion_without_a_message_is_a_model_response_error() -> None:
    """A hostile (or buggy) OpenAI-compatible server answers 200 with a choice that has
    no 'message' (or a null one, or a tool call whose function name is null). The SDK
    builds its objects without validation, and _response_of (outside the error mapping
    of _with_retries) reads choice.message.tool_calls: AttributeError (or a pydantic
    ValidationError) escapes complete() untyped, and complete() does not journal the
    call (it records only ModelError). It should be ModelResponseError ('gave an answer
    that cannot be used'), journaled like any failed call."""
    from actorflow.models import ModelResponseError

    outcome = _complete_against(_completion_body({"index": 0, "finish_reason": "stop"}))
    assert isinstance(outcome, ModelResponseError), repr(outcome)


# B5 (fixed): tool-call arguments with NaN are taken as JSON
def test_b5_tool_call_arguments_with_nan_are_refused() -> None:
    """The model answers a tool call whose arguments are '{"a": NaN}'. json.loads takes
    NaN (Python's extension), so the ToolCall carries a float nan into a tool and the
    journal, although _arguments promises ModelResponseError for arguments that are not
    JSON. It should refuse non-finite numbers (json.loads(parse_constant=...) raising)."""
    from actorflow.models import ModelResponseError

    call = {"id": "c", "type": "function", "function": {"name": "t", "arguments": '{"a": NaN}'}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    outcome = _complete_against(
        _completion_body({"index": 0, "message": message, "finish_reason": "tool_calls"})
    )
    assert isinstance(outcome, ModelResponseError), repr(outcome)


# B6 (fixed): a registered secret used as a mapping key reaches the journal file
def test_b6_a_secret_as_a_mapping_key_never_reaches_the_journal(tmp_path: Path) -> None:
    """docs/secrets.md: a registered secret becomes [REDACTED] 'wherever it appears: in
    any field'. The adversary's tool keys a mapping by the credential (a per-key cache,
    a map of tokens to users) and sends it in a delivery. redact_batch finds the secret
    in the batch's bytes and re-packs the frame through redact(), but _redact_mapping
    redacts values only and keeps keys: the secret is written to the journal file
    verbatim. Keys should be redacted too (or the frame dropped/replaced)."""
    from actorflow import ActorSystem, JournalConfig
    from actorflow.flow.messages import AgentTask
    from actorflow.runtime.behaviour import recipe
    from actorflow.secrets import register_secret, unregister_secret
    from tests.support import Log, Work, Worker

    secret = "b6-s3cr3t-key-0099"  # noqa: S105 - a test secret
    register_secret(secret)
    try:
        path = tmp_path / "run.afj"
        log = Log()
        with ActorSystem(journal=JournalConfig(path=path)) as system:
            worker = system.spawn(recipe(Worker, log), "worker")
            task = AgentTask(flow_id="f", step_id="s", task="t", parameters={secret: "alice"})
            system.tell(worker, task)
            system.tell(worker, Work(n=1))
            log.wait_for(("/agents/worker", 1))
            assert system.journal is not None
            assert system.journal.flush(5)
            data = path.read_bytes()
    finally:
        unregister_secret(secret)
    assert secret.encode() not in data


# B7 (fixed): 'Authorization: Token <credential>' keeps the credential in text
def test_b7_an_authorization_header_with_another_scheme_loses_its_credential() -> None:
    """docs/secrets.md: in text, 'name: value' with a sensitive name loses the value.
    An endpoint's error text quotes the header 'Authorization: Token gh-abcdef123456'
    (GitHub's and Django REST framework's scheme; also 'Digest', 'ApiKey', 'SSWS'...).
    The name rule replaces only the first word (the scheme) and leaves the credential:
    'Authorization: [REDACTED] gh-abcdef123456'. The whole header value (scheme and
    credential) should go."""
    from actorflow.secrets import redact_text

    text = redact_text("request failed; sent Authorization: Token gh-abcdef123456")
    assert "gh-abcdef123456" not in text, text


class _ListLog:
    """A PendingLog whose load() returns fixed records (nothing is written)."""

    def __init__(self, records: list[dict[str, object]]) -> None:
        self.records = records

    @property
    def path(self) -> str:
        return "/system/store"

    def load(self) -> list[dict[str, object]]:
        return self.records

    def write_message(self, record: object, **fields: object) -> object:
        raise AssertionError("nothing is written in this test")

    def write_error(self, reply: object) -> str | None:
        return None


# B8 (fixed): a CLI answer to an old request is forgotten at restart once 1000 later ones ended
def test_b8_an_answer_given_while_down_survives_many_later_ended_requests() -> None:
    """A run asks request 'old' and goes down; meanwhile (days later) the store holds
    more than keep_ended (1,000) requests that were asked after it and ended (other
    flows of a long-lived store). The operator answers 'old' with `actorflow answer`.
    At restart DurablePendingRequests loads ended records oldest-asked first and keeps
    the last 1,000, so the answered 'old' is dropped: get('old') is None, the resumed
    flow's request is taken as new (the human is asked again) and its put overwrites
    the stored answer with an open record. The answer given while down must be told to
    the resumed flow (keep ended records by when they ended, or look the id up in the
    store before taking a request as new)."""
    from actorflow.human import HumanOutcome, HumanResponse
    from actorflow.human.durable import DurablePendingRequests

    def ended(request_id: str, asked_at: float) -> dict[str, object]:
        outcome = HumanResponse(
            request_id=request_id, outcome=HumanOutcome.ANSWERED, value=True,
            answered_at=asked_at + 10, flow_id="f", step_id=request_id,
        )  # fmt: skip
        record = PendingRecord(
            request=_request(request_id), deadline=asked_at + 3600, asked_at=asked_at,
            outcome=outcome,
        )  # fmt: skip
        return record.model_dump(mode="json")

    later = [ended(f"later-{i}", 2_000_000.0 + i) for i in range(1_000)]
    records = [ended("old", 1_000_000.0), *later]  # oldest asked first, as the store reads
    pending = DurablePendingRequests(_ListLog(records))  # type: ignore[arg-type]
    kept = pending.get("old")
    assert kept is not None
    assert kept.outcome is not None


# B9 (fixed): credentials in a stdio MCP server's env are not registered as secrets
def test_b9_a_stdio_servers_credential_env_is_registered_as_a_secret() -> None:
    """A stdio MCP server takes its credential in its environment (the usual way:
    create_stdio_client('uvx', ['mcp-server-github'], env={'GITHUB_TOKEN': ...})).
    The HTTP client registers its sensitive headers' values, so a server that quotes
    them in an error is redacted (docs/mcp.md: 'also when a server quotes the
    credentials in its own error'); the stdio client registers nothing, so the same
    server quoting its token gives an MCPToolError, log line and journal record holding
    it. Values of env entries with sensitive names should be registered like headers."""
    from actorflow.mcp import create_stdio_client
    from actorflow.secrets import redact_text, unregister_secret

    token = "ghp-review-b9-0123456789"  # noqa: S105 - a test secret
    asyncio.run(create_stdio_client(sys.executable, ["-c", "pass"], env={"GITHUB_TOKEN": token}))
    try:
        assert token not in redact_text(f"the server refused {token}")
    finally:
        unregister_secret(token)


# B10 (fixed): the MCP client's log records carry a stdio label with its credential
def test_b10_mcp_log_records_hold_no_credential_of_a_stdio_label() -> None:
    """A stdio server is started with its key on the command line
    ('--api-key=sk-...'). The client's label is 'stdio:' + the first two words, so it
    holds the key; the client logs through a plain logger.bind(server=label) (not
    redacting_logger), so every record of it (connect failed, connected, lost) carries
    the key in extra['server'] and in the 'Connected to / Lost MCP server {server}'
    text, visible to any sink that shows extra (serialize=True, {extra}). docs/mcp.md
    says the client's log lines are redacted. They should be (redacting_logger, and a
    label passed through redact_text)."""
    from actorflow.mcp import Backoff, MCPConnectionError, create_stdio_client

    key = "sk-review-b10-0123456789"
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(str(m.record["extra"]) + m.record["message"]))
    logger.enable("actorflow")
    try:
        client = asyncio.run(
            create_stdio_client(
                "/nonexistent/review-b10-server",
                [f"--api-key={key}"],
                backoff=Backoff(initial=0, attempts=2),
            )
        )

        async def scenario() -> None:
            with pytest.raises(MCPConnectionError):
                await client.connect()
            await client.close()

        asyncio.run(scenario())
    finally:
        logger.disable("actorflow")
        logger.remove(sink)
    assert seen, "the client logged nothing"
    assert not [line for line in seen if key in line], seen


# B11 (fixed): a tool raising RuntimeError/KeyError/OSError fails the model call instead of going
#   back to the model
def test_b11_a_failing_tools_error_goes_back_to_the_model() -> None:
    """docs/models.md: 'a failing tool's error goes back to the model as the tool's
    result'. The model calls a tool that raises RuntimeError (or KeyError, OSError,
    a lookup in a dict the model's arguments point at...). run_tool_call catches only
    ActorflowError, TypeError and ValueError, so the exception escapes
    complete_with_tools and fails the whole task; the model never sees it. Any
    Exception of the tool should become the tool's error message."""
    from actorflow.flow.steps import ToolRegistry
    from actorflow.models import ModelResponse, RecordedModelClient, ToolCall
    from actorflow.models.tools import complete_with_tools

    def lookup(key: str) -> str:
        raise KeyError(key)

    tools = ToolRegistry()
    tools.register("lookup", lookup)
    client = RecordedModelClient(
        [
            ModelResponse(tool_calls=(ToolCall(id="c1", name="lookup", arguments={"key": "x"}),)),
            ModelResponse(content="the key is unknown"),
        ]
    )
    response, conversation = asyncio.run(
        complete_with_tools(client, [{"role": "user", "content": "look x up"}], tools)
    )
    assert response.content == "the key is unknown"
    assert "KeyError" in (conversation[-2].content or "")


# B12 (fixed): a registered secret in a refused MCP argument is quoted unredacted in
#   MCPArgumentsError
def test_b12_mcp_argument_errors_are_redacted() -> None:
    """docs/secrets.md: error messages the MCP client builds pass through redact_text.
    The adversary (or a careless planner) passes a registered credential as an argument
    that does not fit the tool's schema (a string where 'a' is an integer). call_tool
    builds MCPArgumentsError from jsonschema's messages, which quote the value
    ("'<secret>' is not of type 'integer'"), without redact_text: the credential is in
    the exception text, the step's failure, logs that print it. It should be redacted."""
    from actorflow.mcp import MCPArgumentsError, create_production_client
    from actorflow.secrets import register_secret, unregister_secret
    from tests.mcp.servers import thread_server

    secret = "b12-s3cr3t-0123456789"  # noqa: S105 - a test secret
    register_secret(secret)
    try:
        with thread_server() as server:

            async def scenario() -> str:
                client = await create_production_client(server.base_url)
                async with client:
                    with pytest.raises(MCPArgumentsError) as caught:
                        await client.call_tool("add", {"a": secret, "b": 1})
                return str(caught.value)

            text = asyncio.run(scenario())
    finally:
        unregister_secret(secret)
    assert secret not in text, text


# B13 (fixed): a deeply nested JSON text result from an MCP server raises RecursionError
def test_b13_a_deeply_nested_text_result_is_not_a_recursion_error() -> None:
    """A hostile MCP server answers a call with one text block '[' * 100000. result_value
    parses a text that starts with '[' or '{' with json.loads and catches ValueError
    only; json.loads raises RecursionError, which escapes call_tool as an untyped
    error. It should stay text (or be an MCPToolError)."""
    from types import SimpleNamespace

    from actorflow.mcp._convert import result_value

    block = SimpleNamespace(type="text", text="[" * 100_000)
    result = SimpleNamespace(structured_content=None, content=[block])
    assert result_value(result, None) == "[" * 100_000


# B14 (fixed): the durable gateway takes a request its store refuses (id > 512 chars) and keeps it
#   in memory only
def test_b14_a_request_the_store_cannot_keep_is_not_taken_as_durable(tmp_path: Path) -> None:
    """A flow's human step asks under request_id f'{flow_id}/{step_id}/{attempt}@{run}'
    (flow/launcher.py). A flow id of 500 characters is valid (the store keeps flow ids up
    to 512), but the request id then exceeds the store's 512-character limit: the
    durable gateway takes the request, the store refuses its HumanRequestPut
    (StoreDataError), and the gateway only logs 'goes on in memory'. The request shows
    as open, nobody is told it is not durable, and a crash loses it (`actorflow pending`
    never shows it, `actorflow answer` cannot reach it). The gateway should refuse a
    request its log cannot keep (a typed FAILED outcome), or the launcher should build
    ids the store takes (hash long parts)."""
    from actorflow import ActorSystem
    from actorflow.human import (
        HUMAN_PATH,
        DurablePendingRequests,
        HumanRequest,
        list_human_requests,
        spawn_human_gateway,
    )
    from actorflow.stores import StorePendingLog, spawn_store
    from actorflow.testing import ScriptedHuman

    flow_id = "f" * 500
    request_id = f"{flow_id}/ask/1@1764000000000"
    path = tmp_path / "store.sqlite"
    with SqliteStore(path) as store:
        with ActorSystem() as system:
            spawn_store(system, store)
            pending = DurablePendingRequests(StorePendingLog(system))
            spawn_human_gateway(system, ScriptedHuman([]), pending)
            request = HumanRequest(
                request_id=request_id, type=HumanCallbackType.CONFIRM, message="Proceed?",
                flow_id=flow_id, step_id="ask", timeout=3600,
            )  # fmt: skip
            system.tell(HUMAN_PATH, request)
            listed = list_human_requests(system)  # replies once the write is acknowledged
            open_ids = {r.request_id for r in listed}
        stored = store.get_human_request(request_id) if len(request_id) <= 512 else None
    assert request_id not in open_ids or stored is not None, "open, but only in memory"


# B15 (fixed): a deeply nested model answer escapes ask_structured as RecursionError
def test_b15_a_deeply_nested_structured_answer_is_asked_again() -> None:
    """ask_structured (the planner's and decomposer's structured output) refuses an
    invalid answer by catching ActorflowError, ValueError and ValidationError and asking
    the model again. A hostile or broken model answers '[' * 100000: json.loads raises
    RecursionError, which escapes the retry loop (and the planner) untyped. It should be
    one more invalid answer ('it is not JSON'), and the next answer should be taken."""
    from pydantic import BaseModel

    from actorflow.models import RecordedModelClient
    from actorflow.models.structured import ask_structured
    from actorflow.models.types import ModelMessage

    class Answer(BaseModel):
        n: int

    client = RecordedModelClient(["[" * 100_000, '{"n": 1}'])
    messages = [ModelMessage(role="user", content="give n")]
    got = asyncio.run(
        ask_structured(client, messages, Answer, lambda a: a.n, max_attempts=2, mode="prompt")
    )
    assert got == 1


# B16 (fixed): a store whose schema_version is a Unicode digit ('²') raises ValueError, not
#   StoreSchemaError
def test_b16_a_tampered_schema_version_is_a_schema_error(tmp_path: Path) -> None:
    """A store file whose meta.schema_version was changed to '²' (str.isdigit() is true
    for superscripts, int() refuses them). _check_meta and _peek_version test isdigit()
    and then call int(): ValueError escapes SqliteStore(...) and peek_human_requests, so
    `actorflow pending` / `answer` die with a traceback instead of 'not an actorflow
    store' (exit 2). It should be StoreSchemaError (test with isdecimal/ASCII, or catch
    the ValueError)."""
    import sqlite3

    from actorflow.errors import StoreSchemaError
    from actorflow.stores import peek_human_requests

    path = tmp_path / "store.sqlite"
    with SqliteStore(path):
        pass
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = '²' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StoreSchemaError):
        peek_human_requests(path)
    with pytest.raises(StoreSchemaError):
        SqliteStore(path)


# B17 (fixed): `actorflow pending` prints a request's terminal escape sequences raw
def test_b17_pending_does_not_pass_terminal_escapes_through(tmp_path: Path) -> None:
    """A human request's question often quotes untrusted data (a model's or a tool's
    text). The adversary puts terminal control sequences in it: '\\x1b[2K\\r' erases the
    line and rewrites it ('Approve the coffee order?' over 'Drop the prod DB?'),
    OSC 0/52 set the title or the clipboard. `actorflow pending` escapes Rich markup but
    prints ESC through, so the operator who runs `actorflow answer` reads a question
    the adversary chose. Control characters should be shown escaped (\\x1b) or removed."""
    path = tmp_path / "store.sqlite"
    message = "Drop the prod DB?\x1b[2K\rApprove the coffee order?\x1b]52;c;ZXZpbA==\x07"
    _keep(path, _request("r1", message=message), deadline=time.time() + 3600)
    result = CliRunner().invoke(app, ["pending", "--store", str(path)])
    assert result.exit_code == 0, result.output
    assert "r1" in result.output
    assert "\x1b" not in result.output, repr(result.output)


# B18 (fixed): MCP call_timeout is not validated (negative/zero/NaN)
@pytest.mark.parametrize("call_timeout", [-1.0, 0.0, float("nan")])
def test_b18_an_invalid_mcp_call_timeout_is_refused_up_front(call_timeout: float) -> None:
    """An untyped caller (a scenario file, an env var) passes call_timeout=-1, 0 or NaN.
    MCPClient keeps it: with -1 the SDK still sends tools/call (the server runs the tool,
    side effects and all) and then reports a timeout, so every call is a retryable
    MCPConnectionError and a flow retries a tool that did run; NaN gives a bare
    ValueError ('deadline must not be NaN') after the tool ran. Backoff validates its
    numbers; call_timeout should be refused the same way (ConfigurationError: a
    finite number > 0, or None)."""
    from actorflow.mcp import create_production_client

    with pytest.raises(ConfigurationError):
        asyncio.run(create_production_client("http://127.0.0.1:9", call_timeout=call_timeout))


# B19 (fixed): the flow's backstop ignores an escalation_timeout the gateway honours (a numeric
#   string, a reference)
def test_b19_the_flow_backstop_uses_the_escalation_time_the_gateway_uses() -> None:
    """A human_input step has on_timeout='escalate' and escalation_timeout '300' (a
    scenario's string, or a reference resolved when the attempt starts). The gateway's
    request takes it through HumanParameters (lax: '300' -> 300.0), so the escalation
    handler gets 300 s after the first deadline. The decider's _escalation_seconds reads
    the raw parameter, accepts only int/float and uses 0: the flow's own backstop
    (_deadline: at + timeout + escalation + HUMAN_GRACE) fires 60 s after the first
    deadline and times the step out while the escalated request is still open (and
    human_deadline, for a resumed flow, is computed from the same wrong number). Both
    should use the validated value."""
    from actorflow.flow.decider import _escalation_seconds
    from actorflow.flow.models import StepSpec
    from actorflow.flow.steps import HumanParameters

    parameters = {"message": "Ship?", "on_timeout": "escalate", "escalation_timeout": "300"}
    spec = StepSpec(
        id="ask", name="ask", type="human_input", parameters=parameters, dependencies=(),
        timeout=100.0, max_retries=0, metadata={},
    )  # fmt: skip
    gateway_seconds = HumanParameters.model_validate(parameters).escalation_timeout
    assert gateway_seconds == 300.0
    assert _escalation_seconds(spec, 100.0) == gateway_seconds
