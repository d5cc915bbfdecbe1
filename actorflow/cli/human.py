"""``actorflow pending`` and ``actorflow answer``: the human requests kept in a store.

A run whose human gateway keeps its requests in the store (``DurablePendingRequests``
over ``StorePendingLog``) leaves them there when it stops or crashes. ``pending`` lists
the open ones (read-only, so also while the run is up); ``answer`` answers one through
the store while the run is down, and ``actorflow resume FLOW_ID`` then goes on with
that answer (the resumed flow asks again under the same request id and is told it).
While a run is up it holds the store, and ``answer`` says so.

Exit codes: 0 done; 1 the answer was refused (late, answered already, invalid, unknown
request) or the store is held by a running process; 2 the store cannot be opened.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import JsonValue, ValidationError
from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.table import Table

from actorflow.errors import (
    ActorflowError,
    HumanResponseExpiredError,
    StoreCorruptedError,
    StoreError,
    StoreLockedError,
    UnknownHumanRequestError,
)
from actorflow.flow.human_store import ensure_durable_gateway
from actorflow.flow.stored import DEFAULT_STORE, MEMORY, STORE_ENV, acquire_store, release_store
from actorflow.human.durable import record_status
from actorflow.human.messages import HumanRequest, HumanResponse, PendingRecord
from actorflow.human.models import (
    HumanCallbackType,
    HumanOutcome,
    TimeoutPolicy,
)
from actorflow.human.pending import ended_error
from actorflow.human.validation import parse_answer, validate_answer
from actorflow.stores import (
    HumanRequestEntry,
    HumanRequestPut,
    HumanRequestStore,
    Store,
    peek_human_requests,
)

__all__ = [
    "answer_stored_request",
    "ensure_durable_gateway",
    "last_deadline",
    "parse_cli_value",
    "register",
]

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)
DEFAULT_STORE_NAME = str(DEFAULT_STORE)
# As in actorflow.cli.stores, which may import this module (so this one imports not it).
StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        envvar=STORE_ENV,
        help="The store: the SQLite file the run kept its human requests in.",
        show_default=True,
    ),
]


def pending(store: StoreOption = DEFAULT_STORE_NAME) -> None:
    """List the open human requests in the store: id, flow/step, type, question, options,
    deadline (local time) and time left."""
    if store == MEMORY:
        errors.print("[bold red]error:[/] a memory store keeps nothing; pass --store PATH.")
        raise typer.Exit(2)
    try:
        entries = peek_human_requests(store)
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if not entries:
        console.print(f"No pending human requests in {escape(store)}.")
        return
    now = time.time()
    table = Table(title=f"pending human requests in {escape(store)}", title_justify="left")
    # An id is copied into `actorflow answer`: kept on one line while it fits.
    longest = max(len(escape(e.request_id)) for e in entries)
    table.add_column("request", overflow="fold", min_width=min(longest, _ID_WIDTH))
    table.add_column("flow / step", overflow="fold")
    table.add_column("type", no_wrap=True)
    table.add_column("question", overflow="fold")
    table.add_column("options", overflow="fold")
    table.add_column("deadline", no_wrap=True)
    table.add_column("time left", no_wrap=True)
    for entry in entries:
        _add_row(table, entry, now)
    console.print(table)
    console.print("[dim]Answer one with: actorflow answer REQUEST_ID VALUE[/]")


def _add_row(table: Table, entry: HumanRequestEntry, now: float) -> None:
    try:
        record = PendingRecord.model_validate(entry.record)
    except ValidationError:
        table.add_row(escape(entry.request_id), "", "?", "[red](unreadable record)[/]", "", "", "")
        return
    request = record.request
    where = "/".join(x for x in (request.flow_id, request.step_id) if x) or "-"
    options = ""
    if request.options is not None:
        options = ", ".join(f"{i}. {_text(o)}" for i, o in enumerate(request.options, 1))
        options += " (several, comma-separated)" if request.multi_select else ""
    deadline = last_deadline(record)
    left = deadline - now
    shown_left = f"[red]passed {_span(-left)} ago[/]" if left <= 0 else _span(left)
    table.add_row(
        escape(record.request_id),
        escape(where),
        escape(request.type.value) + (" (escalated)" if record.stage else ""),
        escape(request.message),
        escape(options),
        _when(deadline),
        shown_left,
    )


def answer(
    request_id: Annotated[str, typer.Argument(help="The request (see actorflow pending).")],
    value: Annotated[
        str,
        typer.Argument(
            help="The answer: yes/no for a confirmation, an option or its number for a "
            "selection (comma-separated if several), JSON or text for an input."
        ),
    ],
    store: StoreOption = DEFAULT_STORE_NAME,
    responder: Annotated[
        str | None, typer.Option(help="Who answers (default: your user name).")
    ] = None,
) -> None:
    """Answer a pending human request through the store while its run is down; then
    `actorflow resume FLOW_ID` goes on with the answer."""
    if store == MEMORY or not Path(store).exists():
        errors.print(f"[bold red]error:[/] no store at {escape(store)}. Pass --store PATH.")
        raise typer.Exit(2)
    try:
        opened = acquire_store(store)
    except StoreLockedError as exc:
        errors.print(
            f"[bold red]error:[/] the run that asked is still up and holds the store: "
            f"{escape(str(exc))} Answer the request in that run (its console or handler), or "
            "stop the run, answer again here, and go on with `actorflow resume FLOW_ID`."
        )
        raise typer.Exit(1) from None
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    try:
        who = responder or os.environ.get("USER") or "cli"
        response = answer_stored_request(opened, request_id, value, responder=who)
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    finally:
        release_store(opened)
    flow = response.flow_id
    console.print(
        f"Answered {escape(request_id)} with {escape(json.dumps(response.value))}."
        + (f" Go on with: actorflow resume {escape(flow)} --scenario FILE" if flow else "")
    )


def answer_stored_request(
    store: Store,
    request_id: str,
    text: str,
    *,
    responder: str | None = None,
    now: float | None = None,
) -> HumanResponse:
    """Answer the open request ``request_id`` kept in ``store`` with ``text`` (parsed by
    :func:`parse_cli_value`) and store the outcome; return it.

    Raises:
        UnknownHumanRequestError: the store has no such request.
        AlreadyAnsweredError: it was answered already.
        HumanResponseExpiredError: it ended otherwise, or its last deadline has passed
            (the run applies its timeout policy when it resumes).
        InvalidHumanAnswerError: the answer does not fit (the request stays open).
        StoreError: the store cannot keep human requests, or the write failed.
    """
    record = _stored_record(store, request_id)
    if record.outcome is not None:
        raise ended_error(record)
    at = time.time() if now is None else now
    deadline = last_deadline(record)
    if at >= deadline:
        when = _when(deadline)
        raise HumanResponseExpiredError(
            f"Human request {request_id!r} ({record.request.message!r}) is past its deadline "
            f"({when}), so it takes no answer any more; the run applies its timeout policy "
            f"({record.request.on_timeout.value}) when it resumes."
        )
    value = parse_cli_value(record.request, text)
    request = record.request
    response = HumanResponse(
        request_id=request_id,
        outcome=HumanOutcome.ANSWERED,
        value=value,
        responder=responder,
        answered_at=at,
        reason="answered",
        flow_id=request.flow_id,
        step_id=request.step_id,
    )
    ended = record.model_copy(update={"outcome": response})
    write = HumanRequestPut(
        request_id=request_id,
        status=record_status(ended),
        deadline=ended.deadline,
        asked_at=ended.asked_at,
        record=ended.model_dump(mode="json"),
        flow_id=request.flow_id,
        step_id=request.step_id,
    )
    store.commit((write,))
    return response


def _stored_record(store: Store, request_id: str) -> PendingRecord:
    if not isinstance(store, HumanRequestStore):
        raise StoreError(f"The store {store!r} keeps no human requests.")
    entry = store.get_human_request(request_id)
    if entry is None:
        raise UnknownHumanRequestError(
            f"No human request has the id {request_id!r} in the store. List the open ones "
            "with `actorflow pending`."
        )
    try:
        return PendingRecord.model_validate(entry.record)
    except ValidationError as exc:
        raise StoreCorruptedError(
            f"The stored human request {request_id!r} cannot be read: "
            f"{str(exc).strip().splitlines()[0]}. Restore the store from a backup."
        ) from None


def last_deadline(record: PendingRecord) -> float:
    """When ``record`` stops taking answers: its deadline, or, before an escalation its
    policy will make, the escalation's."""
    request = record.request
    if record.stage == 0 and request.on_timeout is TimeoutPolicy.ESCALATE:
        extra = (
            request.timeout if request.escalation_timeout is None else request.escalation_timeout
        )
        return record.deadline + extra
    return record.deadline


def parse_cli_value(request: HumanRequest, text: str) -> JsonValue:
    """Turn the command line's ``text`` into an answer to ``request``, validated.

    A confirmation takes yes/no (y/n, true/false, 1/0); a selection an option as written
    or its number (1 for the first; comma-separated if several); an input without a
    value type takes JSON if the text is JSON, else the text itself; one with a value
    type is parsed as that type.

    Raises:
        InvalidHumanAnswerError: the text is not a valid answer.
    """
    if request.type is HumanCallbackType.INPUT and request.value_type is None:
        try:
            value: JsonValue = json.loads(text)
        except (ValueError, RecursionError):  # nested too deep for JSON: taken as text
            return validate_answer(request, text)
        return validate_answer(request, value)
    return parse_answer(request, text)


def escape(text: str) -> str:
    """``text`` made safe to print: control characters (ESC, CR, BEL, C1, bidi
    overrides ...) shown escaped (``\\x1b``), so a question or an id from the store
    cannot move the cursor, rewrite a line or set the title or clipboard; then Rich
    markup escaped. Newlines and tabs are kept."""
    return _markup_escape(_CONTROL.sub(_shown, text))


_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _when(epoch: float) -> str:
    """``epoch`` as local time, or a plain word when no calendar date can show it."""
    try:
        return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return "after 9999" if epoch > 0 else "before 1970"


def _text(option: JsonValue) -> str:
    return option if isinstance(option, str) else json.dumps(option)


_ID_WIDTH = 40
"""Most columns ``pending`` keeps for a request id before it folds."""
_LONG = 10 * 365 * 86_400
"""Seconds beyond which a span is shown as ``years``."""


def _span(seconds: float) -> str:
    if seconds >= _LONG:
        return "years"
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def register(app: typer.Typer) -> None:
    """Add ``pending`` and ``answer`` to ``app``."""
    app.command(name="pending")(pending)
    app.command(name="answer")(answer)
