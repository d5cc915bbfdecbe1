from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actorflow import __version__
from actorflow.cli import app


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.output.strip() == f"actorflow {__version__}"


def test_run_of_a_missing_file_is_a_clear_error_with_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(tmp_path / "nope.py")])

    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_run_of_a_file_that_is_not_python_says_so(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")

    result = CliRunner().invoke(app, ["run", str(notes)])

    assert result.exit_code == 2
    assert "is not a Python file" in result.output


def test_run_of_a_file_without_main_says_what_to_define(tmp_path: Path) -> None:
    scenario = tmp_path / "empty.py"
    scenario.write_text('"""Nothing here."""\n')

    result = CliRunner().invoke(app, ["run", str(scenario)])

    assert result.exit_code == 2
    assert "has no main(system) function" in result.output


def test_run_of_a_failing_scenario_exits_1_with_the_error(tmp_path: Path) -> None:
    scenario = tmp_path / "boom.py"
    scenario.write_text('"""Boom."""\n\ndef main(system):\n    raise KeyError("boom")\n')

    result = CliRunner().invoke(app, ["run", str(scenario), "--runs-dir", str(tmp_path / "r")])

    assert result.exit_code == 1
    assert "KeyError: 'boom'" in result.output


def test_run_with_messages_shows_each_delivery(tmp_path: Path) -> None:
    scenarios = Path(__file__).resolve().parents[2] / "scenarios"
    args = ["run", str(scenarios / "ping_pong.py"), "-m", "--runs-dir", str(tmp_path)]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    assert "pinger → /agents/ponger  pingpong.ping" in result.output


def _scenario(tmp_path: Path, body: str) -> Path:
    scenario = tmp_path / "scenario.py"
    scenario.write_text('"""A test scenario."""\n\n' + body)
    return scenario


def _run(tmp_path: Path, scenario: Path, *options: str) -> tuple[int, str]:
    args = ["run", str(scenario), "--runs-dir", str(tmp_path / "runs"), *options]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


def test_a_scenario_past_its_timeout_ends_the_process_with_exit_code_1(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path, "import threading\n\ndef main(system):\n    threading.Event().wait()\n"
    )
    command = "from actorflow.cli import main; main()"
    args = ["run", str(scenario), "--timeout", "0.5", "--runs-dir", str(tmp_path / "runs")]

    done = subprocess.run(
        [sys.executable, "-c", command, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert "did not finish within 0.5 s" in done.stdout


def test_results_are_shown_as_they_are_not_as_markup(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path, "def main(system):\n    return {'hint': \"pip install 'x[http]'\"}\n"
    )

    code, output = _run(tmp_path, scenario)

    assert code == 0
    assert "pip install 'x[http]'" in output


def test_a_main_that_returns_something_else_than_a_dict_is_a_clear_failure(
    tmp_path: Path,
) -> None:
    scenario = _scenario(tmp_path, "def main(system):\n    return 5\n")

    code, output = _run(tmp_path, scenario)

    assert code == 1
    assert "main(system) returned int" in output


def test_the_log_file_holds_the_traceback_of_a_failing_scenario(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "def main(system):\n    raise ValueError('boom in main')\n")

    code, output = _run(tmp_path, scenario)

    (log,) = (tmp_path / "runs").glob("*/actorflow.log")
    text = log.read_text()
    assert code == 1
    assert "Traceback" in text
    assert "boom in main" in text
    assert "scenario.py" in text
    assert "actorflow.log" in output


@pytest.mark.parametrize(
    ("body", "options", "message"),
    [
        ("def main(system):\n    return None\n", ["--log-level", "LOUD"], "Unknown log level"),
        (
            "def create_system():\n    raise RuntimeError('no system')\n\n"
            "def main(system):\n    return None\n",
            [],
            "create_system() failed: RuntimeError: no system",
        ),
        (
            "def create_system():\n    return 5\n\ndef main(system):\n    return None\n",
            [],
            "create_system() returned int, not an ActorSystem",
        ),
        (
            "from actorflow import ActorSystem\n\n"
            "def create_system():\n    return ActorSystem().start()\n\n"
            "def main(system):\n    return None\n",
            [],
            "create_system() returned an actor system that has already started",
        ),
        (
            "from actorflow import ActorSystem\n\n"
            "def create_system():\n    s = ActorSystem().start()\n"
            "    s.shutdown()\n    return s\n\n"
            "def main(system):\n    return None\n",
            [],
            "create_system() returned an actor system that has already started",
        ),
    ],
)
def test_setup_mistakes_are_one_line_errors_with_exit_code_2(
    tmp_path: Path, body: str, options: list[str], message: str
) -> None:
    code, output = _run(tmp_path, _scenario(tmp_path, body), *options)

    assert code == 2
    assert message in output
    assert "Traceback" not in output


def test_system_messages_alone_shows_messages_too(tmp_path: Path) -> None:
    scenarios = Path(__file__).resolve().parents[2] / "scenarios"
    args = ["run", str(scenarios / "ping_pong.py"), "--system-messages"]

    result = CliRunner().invoke(app, [*args, "--runs-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "pinger → /agents/ponger  pingpong.ping" in result.output


class_body = "class Stop(BaseException):\n    pass\n\n"


@pytest.mark.parametrize(
    ("raising", "shown"),
    [
        ("raise SystemExit(0)", "SystemExit: 0"),
        ("raise SystemExit(3)", "SystemExit: 3"),
        ("raise KeyboardInterrupt()", "KeyboardInterrupt"),
        ("raise Stop('custom')", "Stop: custom"),
    ],
)
def test_a_main_that_raises_an_exit_request_or_base_exception_is_a_failure(
    tmp_path: Path, raising: str, shown: str
) -> None:
    scenario = _scenario(tmp_path, class_body + f"def main(system):\n    {raising}\n")

    code, output = _run(tmp_path, scenario)

    assert code == 1
    assert "failed" in output
    assert shown in output
    assert "completed" not in output


def test_an_async_main_runs_on_its_own_event_loop(tmp_path: Path) -> None:
    body = (
        "from typing import Literal\n"
        "from actorflow import Behaviour, Message\n\n"
        "class Hi(Message):\n    kind: Literal['clitest.hi'] = 'clitest.hi'\n\n"
        "class Echo(Behaviour):\n"
        "    def on_hi(self, msg, ctx):\n        ctx.reply(msg)\n\n"
        "async def main(system):\n"
        "    path = system.spawn(Echo, 'echo')\n"
        "    reply = await system.ask_async(path, Hi())\n"
        "    return {'reply': reply.kind}\n"
    )

    code, output = _run(tmp_path, _scenario(tmp_path, body))

    assert code == 0, output
    assert "clitest.hi" in output
    assert "completed" in output


def test_an_async_main_that_raises_is_a_failure(tmp_path: Path) -> None:
    body = "async def main(system):\n    raise ValueError('async boom')\n"

    code, output = _run(tmp_path, _scenario(tmp_path, body))

    assert code == 1
    assert "ValueError: async boom" in output


def _flat(output: str) -> str:
    """The output with table borders gone and wrapped cells joined again."""
    return " ".join(output.replace("│", " ").split())


def _agents(tag: str) -> str:
    """Scenario code defining an Agent that fails, hangs or exits on a Job (kind per test:
    the scenarios of one test process share the kind registry)."""
    return _AGENTS.replace("clitest.job", f"clitest.{tag}")


_AGENTS = (
    "import threading\n"
    "from typing import Literal\n"
    "from actorflow import ActorSystem, Behaviour, Message, SupervisorStrategy\n"
    "from actorflow.runtime.supervision import Backoff\n\n"
    "class Job(Message):\n    kind: Literal['clitest.job'] = 'clitest.job'\n"
    "    action: str = 'fail'\n\n"
    "class Agent(Behaviour):\n"
    "    def on_job(self, msg, ctx):\n"
    "        if msg.action == 'hang':\n            threading.Event().wait()\n"
    "        if msg.action == 'exit':\n            raise SystemExit(3)\n"
    "        if msg.action == 'fail':\n            raise ConnectionError('429 Too Many Requests')\n"
    "        ctx.reply(msg)\n\n"
)


def test_run_shows_each_failure_restart_and_give_up_and_the_run_goes_on(tmp_path: Path) -> None:
    body = _agents("giveup") + (
        "def create_system():\n"
        "    backoff = Backoff(initial=0.001, maximum=0.001)\n"
        "    return ActorSystem(guardian_strategy=SupervisorStrategy(\n"
        "        max_restarts=2, within=60.0, backoff=backoff, on_limit='stop'))\n\n"
        "def main(system):\n"
        "    done = threading.Event()\n"
        "    system.subscribe(lambda e: done.set() if e.kind == 'lifecycle.stopped' else None)\n"
        "    agent = system.spawn(Agent, 'agent')\n"
        "    steady = system.spawn(Agent, 'steady')\n"
        "    for _ in range(3):\n        system.tell(agent, Job())\n"
        "    assert done.wait(10)\n"
        "    return {'steady answers': system.ask(steady, Job(action='ok')).action}\n"
    )

    code, output = _run(tmp_path, _scenario(tmp_path, body))

    assert code == 0, output
    assert output.count("failed     /agents/agent  builtins.ConnectionError") == 3
    assert output.count("restarted  /agents/agent") == 2
    assert "gave up    /agents/agent  supervisor gave up after 2 restarts in 60 s" in output
    assert "stopped for good" in output
    assert "steady answers" in output


def test_an_escalation_main_never_saw_fails_the_run(tmp_path: Path) -> None:
    body = _agents("escalation") + (
        "def create_system():\n"
        "    return ActorSystem(guardian_strategy=SupervisorStrategy(max_restarts=0))\n\n"
        "def main(system):\n"
        "    stopped = threading.Event()\n"
        "    system.subscribe(lambda e: stopped.set() if e.kind == 'lifecycle.escalated' else 0)\n"
        "    system.tell(system.spawn(Agent, 'agent'), Job())\n"
        "    assert stopped.wait(10)\n"
    )

    code, output = _run(tmp_path, _scenario(tmp_path, body))

    assert code == 1
    assert "escalated  to the root" in output
    assert "failed: the actor system stopped because a failure escalated to the root" in _flat(
        output
    )


def test_an_actor_raising_system_exit_fails_the_run_and_says_which(tmp_path: Path) -> None:
    body = _agents("exit") + (
        "def main(system):\n"
        "    system.tell(system.spawn(Agent, 'agent'), Job(action='exit'))\n"
        "    system.wait_terminated(timeout=10)\n"
    )

    code, output = _run(tmp_path, _scenario(tmp_path, body))

    assert code == 1
    assert "stopping   the system: actor '/agents/agent' raised SystemExit(3)" in output
    assert "failed: SystemExit: 3" in output


def test_a_hung_handler_past_the_timeout_is_named_without_a_traceback(tmp_path: Path) -> None:
    body = _agents("hang") + (
        "def main(system):\n"
        "    system.ask(system.spawn(Agent, 'stuck'), Job(action='hang'), timeout=600)\n"
    )
    command = "from actorflow.cli import main; main()"
    scenario = _scenario(tmp_path, body)
    args = ["run", str(scenario), "--timeout", "1", "--runs-dir", str(tmp_path / "runs")]

    done = subprocess.run(
        [sys.executable, "-c", command, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "did not finish within 1 s" in done.stdout
    assert "abandoned  /agents/stuck" in done.stdout
    assert "'/agents/stuck' is still in its handler of 'clitest.hang'" in _flat(done.stdout)


def _flow_scenario(fail: bool) -> str:
    """Scenario code running one flow of two tool steps; the second raises if ``fail``."""
    return (
        "import asyncio\n"
        "from actorflow import FlowPlan, create_enhanced_flow, create_flow_step\n\n"
        "def fetch(task):\n    return 'fetched'\n\n"
        f"def report(task):\n    if {fail}:\n        raise ValueError('bad input')\n"
        "    return 'reported'\n\n"
        "async def run(system):\n"
        "    flow = create_enhanced_flow(system=system)\n"
        "    flow.register_tool('fetch', fetch)\n"
        "    flow.register_tool('report', report)\n"
        "    steps = [\n"
        "        create_flow_step('Fetch', 'mcp_tool', {'tool_name': 'fetch', 'arguments':"
        " {'task': 'x'}}, id='fetch'),\n"
        "        create_flow_step('Report', 'mcp_tool', {'tool_name': 'report', 'arguments':"
        " {'task': 'y'}, 'max_retries': 0}, ['fetch'], id='report'),\n"
        "    ]\n"
        "    state = await flow.execute(FlowPlan(name='two steps', steps=steps))\n"
        "    return {'flow': state.status.value}\n\n"
        "def main(system):\n    return asyncio.run(run(system))\n"
    )


def test_a_flow_that_failed_fails_the_run_although_main_returned(tmp_path: Path) -> None:
    code, output = _run(tmp_path, _scenario(tmp_path, _flow_scenario(fail=True)), "--store",
                        "memory")  # fmt: skip

    flat = _flat(output)
    assert code == 1, output
    assert "step failed 'two steps': step report failed after 1 attempt: ValueError: bad" in flat
    assert "flow failed 'two steps' failed after" in flat
    assert "status failed: flow 'two steps' (flow_" in flat
    assert "flows 1 (1 failed)" in flat
    assert "result: flow failed" in flat


def test_a_completed_flow_gets_a_summary_row_and_exit_code_0(tmp_path: Path) -> None:
    code, output = _run(tmp_path, _scenario(tmp_path, _flow_scenario(fail=False)), "--store",
                        "memory")  # fmt: skip

    flat = _flat(output)
    assert code == 0, output
    assert "flow done 'two steps' completed in" in flat
    assert "'two steps' completed 2/2 completed 2" in flat
    assert "flows 1 (1 completed)" in flat
    assert "actor failures 0" in flat


def test_steps_shows_a_line_per_step_started_and_completed(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, _flow_scenario(fail=False))

    code, output = _run(tmp_path, scenario, "--store", "memory", "--steps")

    assert code == 0, output
    assert "step       'two steps': step fetch started (attempt 1)" in output
    assert "step       'two steps': step report completed in " in output


def test_the_flows_of_a_scenario_without_flows_are_not_summarised(tmp_path: Path) -> None:
    code, output = _run(tmp_path, _scenario(tmp_path, "def main(system):\n    return None\n"))

    assert code == 0, output
    assert "flows" not in output.splitlines()  # the title of the per-flow table
    assert "│ flows " not in output  # the row of the run summary
