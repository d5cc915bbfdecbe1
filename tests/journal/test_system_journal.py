from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from typer.testing import CliRunner, Result

from actorflow import (
    ActorPath,
    ActorSystem,
    Behaviour,
    Context,
    Durability,
    JournalConfig,
    Message,
    open_journal,
    recipe,
)
from actorflow.cli import app
from actorflow.journal import JournalEvent, JournalHeader, JournalWriter
from actorflow.messages import (
    ActorFailed,
    ActorRestarted,
    ActorSpawned,
    DeadLetter,
    EffectRecorded,
    Envelope,
)
from tests.support import Done, Log, Marker, Work, Worker

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


class Lookup(Message):
    kind: Literal["test.lookup"] = "test.lookup"


class EdgeActor(Behaviour):
    """Reads the clock, makes an id and records a tool result, as edge actors do."""

    def on_lookup(self, msg: Lookup, ctx: Context) -> None:
        ctx.now()
        ctx.new_id("order")
        ctx.record_effect("tool", {"temperature": 21.5}, name="weather")
        ctx.reply(Done(n=0))


def test_a_journaled_system_records_deliveries_lifecycle_and_dead_letters(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path, entry_point="test")) as system:
        worker = system.spawn(recipe(Worker, Log(), "w"), "w")
        system.ask(worker, Work(n=1))
        system.tell(worker, Work(fail=True))
        system.ask(worker, Work(n=2))

    with open_journal(path) as reader:
        records = list(reader)

    header = records[0]
    assert isinstance(header, JournalHeader)
    assert (header.run_id, header.entry_point) == (system.run_id, "test")
    works = [r.message for r in records if isinstance(r, Envelope) and isinstance(r.message, Work)]
    assert works == [Work(n=1), Work(fail=True), Work(n=2)]
    events = [r.message for r in records if isinstance(r, JournalEvent)]
    assert ActorSpawned(path=worker, behaviour="Worker") in events
    failed = next(e for e in events if isinstance(e, ActorFailed))
    assert failed.error.error_type == "builtins.ValueError"
    assert "ValueError: work 0 failed" in failed.error.traceback
    assert ActorRestarted(path=worker, restarts=1) in events
    dead = next(e for e in events if isinstance(e, DeadLetter))
    assert dead.message == Work(fail=True)
    seqs = [r.seq for r in records[1:] if not isinstance(r, JournalHeader)]
    assert len(seqs) == len(set(seqs))


def test_effects_of_edge_actors_are_recorded_with_the_delivery_they_served(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        edge = system.spawn(EdgeActor, "edge")
        system.ask(edge, Lookup())

    with open_journal(path) as reader:
        records = list(reader)
    lookup_seq = next(
        r.seq for r in records if isinstance(r, Envelope) and isinstance(r.message, Lookup)
    )
    effects = [
        r.message
        for r in records
        if isinstance(r, JournalEvent) and isinstance(r.message, EffectRecorded)
    ]

    assert [(e.effect, e.name) for e in effects] == [
        ("clock", "now"),
        ("id", "order"),
        ("tool", "weather"),
    ]
    assert effects[1].value == "order-1"
    assert effects[2].value == {"temperature": 21.5}
    assert {e.during_seq for e in effects} == {lookup_seq}
    assert {e.actor for e in effects} == {edge}


_WRITER = """
import sys
from typing import Literal
from actorflow import ActorSystem, Behaviour, JournalConfig, Durability, Message

class Tick(Message):
    kind: Literal["kill.tick"] = "kill.tick"
    n: int

class Sink(Behaviour):
    def on_tick(self, msg, ctx):
        pass

system = ActorSystem(journal=JournalConfig(path=sys.argv[1], durability=Durability(sys.argv[2]),
                                          batch_frames=64, batch_interval=0.001)).start()
sink = system.spawn(Sink, "sink")
n = 0
while True:
    n += 1
    system.tell(sink, Tick(n=n))
    if n == 20_000:
        print("ready", flush=True)
"""


def test_a_writer_killed_with_sigkill_leaves_only_whole_decodable_frames(tmp_path: Path) -> None:
    for durability in (Durability.BATCH, Durability.NONE):
        path = tmp_path / f"journal-{durability}"
        with subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), durability.value],
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)

        with open_journal(path) as reader:
            records = list(reader)
        assert isinstance(records[0], JournalHeader)
        assert len(records) > 100
        # Tick's class lives in the killed process, so here its records are opaque.
        opaque = [
            r for r in records if isinstance(r, Envelope) and r.message.kind_tag == "message.opaque"
        ]
        assert [r.message.fields["n"] for r in opaque] == list(range(1, len(opaque) + 1))  # type: ignore[attr-defined]


def test_ping_pong_log_shows_the_crash_the_dead_letter_and_the_restart(tmp_path: Path) -> None:
    runner = CliRunner()
    ran = runner.invoke(app, ["run", str(SCENARIOS / "ping_pong.py"), "--runs-dir", str(tmp_path)])
    assert ran.exit_code == 0, ran.output
    (run_dir,) = tmp_path.iterdir()
    journal = run_dir / "journal"
    assert f"journal: {journal}" in ran.output

    shown = runner.invoke(app, ["log", "show", str(journal), "--actor", "/agents/ponger"])
    diagram = runner.invoke(app, ["log", "diagram", str(journal), "--format", "mermaid"])
    plant = runner.invoke(app, ["log", "diagram", str(journal), "--format", "plantuml"])
    stats = runner.invoke(app, ["log", "stats", str(journal)])

    assert shown.exit_code == 0, shown.output
    assert "lifecycle.failed builtins.RuntimeError: ponger tripped over ping 7" in shown.output
    assert "deadletter.recorded failed: pingpong.ping" in shown.output
    assert "lifecycle.restarted" in shown.output
    assert diagram.output.startswith("sequenceDiagram\n")
    found = re.search(r"participant (p\d+) as /agents/ponger", diagram.output)
    assert found is not None, diagram.output
    ponger = found.group(1)
    assert f"Note over {ponger}: failed: RuntimeError: ponger tripped over ping 7" in diagram.output
    assert f"Note over {ponger}: dead letter (failed): pingpong.ping" in diagram.output
    assert f"Note over {ponger}: restarted (restart 1)" in diagram.output
    assert plant.output.startswith("@startuml\n")
    assert plant.output.rstrip().endswith("@enduml")
    assert "failed: 1" in stats.output


def test_log_show_filters_by_kind_and_prints_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        worker = system.spawn(recipe(Worker, Log(), "w"), "w")
        system.ask(worker, Work(n=5))

    result = CliRunner().invoke(app, ["log", "show", str(path), "--kind", "test.work", "--json"])

    assert result.exit_code == 0, result.output
    (line,) = result.output.strip().splitlines()
    assert '"type": "delivery"' in line
    assert '"n": 5' in line


def test_log_show_limit_counts_records_not_segment_headers(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        worker = system.spawn(recipe(Worker, Log(), "w"), "w")
        system.ask(worker, Work(n=5))

    result = CliRunner().invoke(app, ["log", "show", str(path), "--limit", "2", "--json"])

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len([line for line in lines if '"type": "header"' not in line]) == 2


_FOREIGN_WRITER = """
import sys
from typing import Literal
from actorflow import ActorSystem, Behaviour, Context, JournalConfig, Message

class Foreign(Message):
    kind: Literal["foreign.hello"] = "foreign.hello"
    n: int

class Sink(Behaviour):
    def on_foreign(self, msg: Foreign, ctx: Context) -> None:
        ctx.reply(msg)

with ActorSystem(journal=JournalConfig(path=sys.argv[1])) as system:
    system.ask(system.spawn(Sink, "sink"), Foreign(n=7))
"""


def test_log_show_json_gives_records_of_unknown_classes_their_own_kind(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    subprocess.run([sys.executable, "-c", _FOREIGN_WRITER, str(path)], check=True, timeout=60)

    args = ["log", "show", str(path), "--kind", "foreign.", "--json"]
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines
    assert all('"kind": "foreign.hello"' in line and '"n": 7' in line for line in lines)
    assert "message.opaque" not in result.output


def test_log_show_marks_payloads_it_cuts_short(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        worker = system.spawn(recipe(Worker, Log(), "w"), "w")
        system.tell(worker, Marker(label="x" * 300))
        system.ask(worker, Work(n=1))

    result = CliRunner().invoke(app, ["log", "show", str(path), "--kind", "test.marker"])

    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if "test.marker" in line]
    assert line.endswith("…")
    assert "x" * 300 not in line


def test_log_show_takes_times_of_day_as_it_prints_them(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        worker = system.spawn(recipe(Worker, Log(), "w"), "w")
        system.ask(worker, Work(n=1))

    def shown(*options: str) -> list[str]:
        result = CliRunner().invoke(app, ["log", "show", str(path), "--json", *options])
        assert result.exit_code == 0, result.output
        return [line for line in result.output.splitlines() if '"type": "delivery"' in line]

    everything = shown()
    assert everything
    assert shown("--since", "00:00:00") == everything  # from the start of the log's day
    assert shown("--until", "00:00:00.000") == []
    bad = CliRunner().invoke(app, ["log", "show", str(path), "--since", "25:99"])
    assert bad.exit_code == 2
    assert "is not a time" in bad.output


def test_log_show_of_a_damaged_log_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        system.ask(system.spawn(recipe(Worker, Log(), "w"), "w"), Work(n=5))
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF
    path.write_bytes(bytes(data))

    result = CliRunner().invoke(app, ["log", "show", str(path)])

    assert result.exit_code == 1
    assert "is damaged at offset 8" in result.output


def test_log_show_follow_prints_records_appended_while_it_runs(
    tmp_path: Path, writer_factory: Callable[..., JournalWriter]
) -> None:
    writer = writer_factory("journal")
    writer.append(JournalEvent(1, 1.0, ActorSpawned(path=ActorPath("/agents/a"), behaviour="A")))
    assert writer.flush()
    result: list[Result] = []
    follower = threading.Thread(
        target=lambda: result.append(
            CliRunner().invoke(app, ["log", "show", str(writer.path), "--follow", "--limit", "2"])
        )
    )
    follower.start()

    writer.append(JournalEvent(2, 2.0, ActorSpawned(path=ActorPath("/agents/b"), behaviour="B")))
    assert writer.flush()
    follower.join(timeout=30)

    assert not follower.is_alive()
    assert result[0].exit_code == 0, result[0].output
    assert "/agents/a" in result[0].output
    assert "/agents/b" in result[0].output
