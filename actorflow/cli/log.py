"""``actorflow log show|stats|diagram|flow|repair``: read a run's message log, or repair it.

Every command takes a journal file, a run folder, a run id or ``latest``
(:mod:`actorflow.cli.paths`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from actorflow.cli._logio import (
    FileArg,
    RunsDirOpt,
    console,
    errors,
    journal_path,
    open_reader,
    read_records,
)
from actorflow.cli.flowlog import flow_steps
from actorflow.cli.paths import DEFAULT_RUNS_DIR
from actorflow.cli.replaylog import replay_run
from actorflow.errors import ActorflowError
from actorflow.journal import (
    JournalEntry,
    JournalEvent,
    JournalFilter,
    JournalHeader,
    RepairReport,
    UndecodedRecord,
    repair_journal,
    sequence_diagram,
    summarise,
)
from actorflow.journal.query import record_kind
from actorflow.messages import (
    ActorFailed,
    DeadLetter,
    Envelope,
    Message,
    OpaqueMessage,
    envelope_to_record,
    message_fields,
    message_kind,
)

__all__ = ["log_app"]

log_app = typer.Typer(
    help="Read a run's message log (journal): show, stats, diagram, its flows step by step; "
    "repair a damaged one.",
    no_args_is_help=True,
)
ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="Only records sent, received or about this path.")
]
KindOpt = Annotated[
    str | None,
    typer.Option(
        "--kind",
        help="Only this message kind (flow.run), or every kind of an area, with or without "
        "its dot (--kind ping matches ping.request and ping.reply).",
    ),
]
FlowOpt = Annotated[str | None, typer.Option("--flow", help="Only records of this flow id.")]
CorrOpt = Annotated[str | None, typer.Option("--correlation", help="Only this correlation id.")]
FromOpt = Annotated[int | None, typer.Option("--from-seq", help="Smallest sequence number.")]
ToOpt = Annotated[int | None, typer.Option("--to-seq", help="Largest sequence number.")]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since", help="Epoch seconds, ISO time, or HH:MM:SS (UTC): only records at/after."
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until", help="Epoch seconds, ISO time, or HH:MM:SS (UTC): only records at/before."
    ),
]


def _when(text: str | None, day: date | None) -> float | None:
    """Epoch seconds of ``text``: epoch seconds, an ISO date and time, or a time of day
    as ``log show`` prints it (UTC, on ``day``, the day the log starts)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            clock = dt_time.fromisoformat(text)
        except ValueError:
            clock = None
        if clock is None or day is None:
            errors.print(
                f"[bold red]error:[/] {text!r} is not a time: use epoch seconds, an ISO time "
                "(2026-11-25T10:13:44) or a time of day as shown by log show (10:13:44.742)."
            )
            raise typer.Exit(2) from None
        moment = datetime.combine(day, clock)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _first_day(path: Path) -> date | None:
    """The UTC day the log at ``path`` starts (its first segment header)."""
    with open_reader(path) as reader:
        first = next(read_records(reader), None)
    if isinstance(first, JournalHeader):
        return datetime.fromtimestamp(first.started_at, UTC).date()
    return None


def _filter(
    path: Path,
    actor: str | None,
    kind: str | None,
    flow: str | None,
    correlation: str | None,
    from_seq: int | None,
    to_seq: int | None,
    since: str | None,
    until: str | None,
) -> JournalFilter:
    day = _first_day(path) if since is not None or until is not None else None
    return JournalFilter(
        actor=actor,
        kind=_kind(kind),
        flow_id=flow,
        correlation_id=correlation,
        seq_from=from_seq,
        seq_to=to_seq,
        since=_when(since, day),
        until=_when(until, day),
    )


def _kind(kind: str | None) -> str | None:
    """A kind for the filter: every kind tag has a dot, so a word without one is an area
    (``ping`` means ``ping.``)."""
    return kind if kind is None or "." in kind else kind + "."


def _summary_of(record: JournalEntry) -> str:
    if isinstance(record, UndecodedRecord):
        return escape(f"at offset {record.offset}: {record.reason}")
    if isinstance(record, JournalHeader):
        return f"run {record.run_id} ({record.entry_point or 'no entry point'})"
    msg = record.message
    if isinstance(msg, ActorFailed):
        return escape(f"{msg.error.error_type}: {msg.error.message} (on {msg.message_kind})")
    if isinstance(msg, DeadLetter):
        kind = None if msg.message is None else message_kind(msg.message)
        return escape(f"{msg.reason.value}: {kind} seq={msg.seq} {msg.detail}")
    return escape(_shorten(json.dumps(message_fields(record.message), default=str)))


def _shorten(text: str, limit: int = 100) -> str:
    """``text`` cut to ``limit`` characters, with "…" when something was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_of(record: JournalEntry) -> dict[str, object]:
    if isinstance(record, UndecodedRecord):
        return {
            "type": "undecoded",
            "offset": record.offset,
            "seq": record.seq,
            "record_type": record.record_type,
            "reason": record.reason,
            "data": _plain_json(record.data),
        }
    if isinstance(record, JournalHeader):
        return record.model_dump(mode="json")
    if isinstance(record, Envelope):
        return {
            "type": "delivery",
            **envelope_to_record(record),
            "message": _message_json(record.message),
        }
    return {
        "type": "event",
        "seq": record.seq,
        "wall_time": record.wall_time,
        "event": _message_json(record.message),
    }


def _plain_json(value: object) -> object:
    """``value`` (decoded msgpack) with what JSON cannot hold (NaN, infinities, bytes,
    non-string keys) turned into strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    return value


def _message_json(message: Message) -> dict[str, object]:
    """A message as it was recorded: a message of an unknown class as its original kind
    and fields, not as the stand-in that carries them."""
    if isinstance(message, OpaqueMessage):
        return {"kind": message.original_kind, **message.fields}
    return message.model_dump(mode="json")


def _row(record: JournalEntry) -> tuple[str, str, str, str, str]:
    if isinstance(record, UndecodedRecord):
        seq = "" if record.seq is None else str(record.seq)
        data = record.data if isinstance(record.data, dict) else {}
        ends = [str(data.get(k)) for k in ("sender", "recipient") if isinstance(data.get(k), str)]
        return (seq, "", " → ".join(ends), "undecoded", _summary_of(record))
    if isinstance(record, JournalHeader):
        stamp = datetime.fromtimestamp(record.started_at, UTC).strftime("%H:%M:%S.%f")[:-3]
        return ("", stamp, "", "header", _summary_of(record))
    stamp = datetime.fromtimestamp(record.wall_time, UTC).strftime("%H:%M:%S.%f")[:-3]
    if isinstance(record, Envelope):
        route = f"{record.sender or 'outside'} → {record.recipient}"
    else:
        assert isinstance(record, JournalEvent)
        route = str(getattr(record.message, "path", getattr(record.message, "recipient", "")))
    return (str(record.seq), stamp, route, record_kind(record), _summary_of(record))


@log_app.command("show")
def show(
    run: FileArg,
    actor: ActorOpt = None,
    kind: KindOpt = None,
    flow: FlowOpt = None,
    correlation: CorrOpt = None,
    from_seq: FromOpt = None,
    to_seq: ToOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new records (Ctrl-C stops).")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(help="Print at most this many records (segment headers not counted).", min=0),
    ] = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
) -> None:
    """Print a log's records, one line each: seq, time, sender → recipient, kind, payload."""
    file = journal_path(run, runs_dir)
    flt = _filter(file, actor, kind, flow, correlation, from_seq, to_seq, since, until)
    with open_reader(file) as reader:
        shown = _show(flt.apply(read_records(reader)), as_json=as_json, limit=limit)
        while follow and (limit is None or shown < limit):
            time.sleep(0.2)  # polling a file someone else appends to
            left = None if limit is None else limit - shown
            shown += _show(
                flt.apply(read_records(reader)), as_json=as_json, limit=left, title=False
            )


def _show(
    records: Iterator[JournalEntry], *, as_json: bool, limit: int | None, title: bool = True
) -> int:
    count = 0
    if as_json:
        for record in records:
            if limit is not None and count >= limit:
                break
            console.print_json(json.dumps(_json_of(record), default=str), indent=None)
            count += not isinstance(record, JournalHeader)
        return count
    if title:
        route = "sender → recipient / actor"
        console.print(f"[bold]{'seq':>6}  {'time (UTC)':<12}  {route:<44}  kind / payload[/]")
    for record in records:
        if limit is not None and count >= limit:
            break
        seq, stamp, route, kind, payload = _row(record)
        console.print(f"{seq:>6}  {stamp:<12}  {escape(route):<44}  [cyan]{kind}[/] {payload}")
        count += not isinstance(record, JournalHeader)
    return count


@log_app.command("stats")
def stats(run: FileArg, runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR) -> None:
    """Count records by kind and actor; dead letters, failures, restarts, span, throughput."""
    file = journal_path(run, runs_dir)
    with open_reader(file) as reader:
        summary = summarise(read_records(reader))
    table = Table(title=f"{file}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("runs", ", ".join(summary.runs))
    table.add_row(
        "records",
        f"{summary.records} ({summary.deliveries} deliveries, {summary.events} events, "
        f"{summary.records - summary.deliveries - summary.events - summary.undecoded} "
        f"segment headers, {summary.undecoded} undecoded)",
    )
    table.add_row("time span", f"{summary.span:.3f} s")
    table.add_row("throughput", f"{summary.throughput:,.0f} deliveries/s")
    for title, counts in (
        ("dead letters", summary.dead_letters),
        ("failures", summary.failures),
        ("restarts", summary.restarts),
    ):
        table.add_row(title, ", ".join(f"{k}: {v}" for k, v in counts.items()) or "0")
    console.print(table)
    for title, counts in (
        ("by kind", summary.by_kind),
        ("deliveries by recipient", summary.by_actor),
    ):
        sub = Table(title=title, title_justify="left")
        sub.add_column(title.split()[-1])
        sub.add_column("count", justify="right")
        for key, value in counts.items():
            sub.add_row(key, str(value))
        console.print(sub)


@log_app.command("diagram")
def diagram(
    run: FileArg,
    fmt: Annotated[
        str, typer.Option("--format", help="mermaid or plantuml.", case_sensitive=False)
    ] = "mermaid",
    actor: ActorOpt = None,
    kind: KindOpt = None,
    flow: FlowOpt = None,
    correlation: CorrOpt = None,
    from_seq: FromOpt = None,
    to_seq: ToOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    system_messages: Annotated[
        bool, typer.Option("--system-messages", help="Also draw supervision traffic.")
    ] = False,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
) -> None:
    """Print a sequence diagram (Mermaid or PlantUML) of the log's deliveries and events."""
    chosen = fmt.lower()
    if chosen not in ("mermaid", "plantuml"):
        errors.print(f"[bold red]error:[/] --format must be mermaid or plantuml, not {fmt!r}.")
        raise typer.Exit(2)
    file = journal_path(run, runs_dir)
    flt = _filter(file, actor, kind, flow, correlation, from_seq, to_seq, since, until)
    with open_reader(file) as reader:
        text = sequence_diagram(
            flt.apply(read_records(reader)),
            "mermaid" if chosen == "mermaid" else "plantuml",
            include_system=system_messages,
        )
    console.out(text, end="")


log_app.command("flow")(flow_steps)
log_app.command("replay")(replay_run)


@log_app.command("repair")
def repair(
    run: FileArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The new file (default: the journal's path + .repaired); never overwritten.",
        ),
    ] = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
) -> None:
    """Copy every valid frame of a damaged log to a new file and list what was skipped.

    The original is left as it is. Frames are copied byte for byte; damaged byte ranges
    and a torn tail are skipped and listed (offsets, lengths, why).
    """
    file = journal_path(run, runs_dir)
    target = output if output is not None else file.with_name(file.name + ".repaired")
    try:
        report = repair_journal(file, target)
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    _print_repair(report)


def _print_repair(report: RepairReport, shown: int = 20) -> None:
    console.print(
        f"{escape(str(report.output))}: copied {report.frames} frames "
        f"({report.bytes_copied:,} bytes) from {escape(str(report.source))}."
    )
    if not report.skipped:
        console.print("There was no damage found: the copy holds every frame.")
        return
    count = len(report.skipped)
    console.print(
        f"[yellow]skipped {count} damaged range{'' if count == 1 else 's'}[/] "
        f"({report.bytes_skipped:,} bytes):"
    )
    for skipped in report.skipped[:shown]:
        tail = ", torn tail" if skipped.torn_tail else ""
        console.print(
            f"  bytes {skipped.start}-{skipped.end} ({skipped.length} bytes{tail}): "
            f"{escape(skipped.reason)}"
        )
    if count > shown:
        console.print(f"  … and {count - shown} more ranges.")
