"""Replaying a recorded run against the current code (issue 16, phase 1: flows).

:func:`replay` re-drives every flow recorded in a run's journal through the current
flow decider, with the recorded outside results (step results, human answers, timer
events), and compares what the current code decides with what the recorded flow actor
did. See ``docs/replay.md``.
"""

from __future__ import annotations

from actorflow.replay.flows import Action, FlowReplay, ReplayReport, replay, replay_records

__all__ = ["Action", "FlowReplay", "ReplayReport", "replay", "replay_records"]
