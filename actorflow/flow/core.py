"""The flow decider's state: frozen, JSON-serialisable plain data.

:class:`FlowCore` is a flow's whole state as :func:`~actorflow.flow.decider.decide`
sees it; :class:`FlowSpec` what the flow runs (plan, order, settings, seed, context)
with tables derived from it once; :class:`StepRecord` one step's standing. None of
them is ever changed in place: the decider builds new ones (named tuples, since one
is made per event). ``to_json`` / ``from_json`` round-trip each of them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, NamedTuple, cast

from pydantic import JsonValue

from actorflow.flow.models import TERMINAL_STEP_STATES, FlowStatus, PlanSpec, StepSpec, StepStatus
from actorflow.flow.retry import RetryPolicy
from actorflow.messages import freeze

__all__ = ["HUMAN_KEYS", "FlowCore", "FlowSpec", "Settings", "StepRecord"]

HUMAN_KEYS: Final = {"confirm": "user_confirmed", "input": "user_input", "select": "user_selection"}
"""Output keys of ``human_input`` steps without their own ``output_key``."""
_COMPLETED = StepStatus.COMPLETED


@dataclass(frozen=True, slots=True)
class Settings:
    """The options of :class:`~actorflow.flow.models.FlowConfig` that decisions use."""

    max_parallel_steps: int = 10
    default_step_timeout: float | None = 300.0
    retry_delay: float = 1.0
    exponential_backoff: bool = True
    max_retry_delay: float = 60.0
    jitter: float = 0.1
    skip_dependents_of_failed_steps: bool = False
    human_timeout: float = 3600.0
    human_gateway: bool = False
    """Human steps are timed by the human gateway (the decider sets them no deadline);
    False in states stored before the gateway."""
    flow_timeout: float | None = None
    auto_save_interval: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, JsonValue]) -> Settings:
        """Take the settings from a FlowConfig's JSON (other keys are ignored)."""
        values: dict[str, Any] = {f.name: config[f.name] for f in fields(cls) if f.name in config}
        return cls(**values)

    def to_json(self) -> dict[str, JsonValue]:
        """Return the settings as JSON."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class FlowSpec:
    """What a flow runs: plan, order, settings, seed, context; plus tables derived from
    them once (dependents, positions, retry policies). Immutable."""

    __slots__ = (
        "_policies",
        "_references",
        "base",
        "context",
        "critical",
        "dependents",
        "inline",
        "order",
        "output_keys",
        "plan",
        "position",
        "seed",
        "settings",
        "shared_keys",
        "steps",
        "timeouts",
    )

    def __init__(
        self,
        plan: PlanSpec,
        order: tuple[str, ...],
        settings: Settings,
        *,
        seed: int,
        context: Mapping[str, JsonValue],
        inline: bool,
    ) -> None:
        self.plan = plan
        self.order = order or tuple(s.id for s in plan.steps)
        self.settings = settings
        self.seed = seed
        self.context = context
        self.inline = inline
        self.steps: Mapping[str, StepSpec] = {s.id: s for s in plan.steps}
        dependents: dict[str, list[str]] = {s.id: [] for s in plan.steps}
        for s in plan.steps:
            for dep in s.dependencies:
                dependents[dep].append(s.id)
        self.dependents = {k: tuple(v) for k, v in dependents.items()}
        self.position = {sid: index for index, sid in enumerate(self.order)}
        self._policies: dict[str, RetryPolicy] = {}
        self._references: dict[str, bool] = {}
        self.critical = {s.id: s.parameters.get("critical") is not False for s in plan.steps}
        self.timeouts = {s.id: _timeout(s, settings) for s in plan.steps}
        self.output_keys = {s.id: _output_key(s) for s in plan.steps}
        holders: dict[str, list[str]] = {}
        for sid in self.order:
            key = self.output_keys[sid]
            if key is not None:
                holders.setdefault(key, []).append(sid)
        self.shared_keys: Mapping[str, tuple[str, ...]] = {
            key: tuple(sids) for key, sids in holders.items() if len(sids) > 1
        }
        """Output keys that several steps have (two ``human_input`` steps asking for
        input, say), with those steps in plan order: the latest of them with a result
        holds the key."""
        # Read-only, so that no step can change what later steps see.
        self.base = cast("Mapping[str, Any]", freeze({**plan.variables, **context}))

    def has_references(self, sid: str) -> bool:
        """Whether step ``sid``'s parameters hold a ``${...}`` reference (cached)."""
        found = self._references.get(sid)
        if found is None:
            # repr() is one C-level walk; "${" in it means a reference somewhere (or a key
            # holding "${", which resolving leaves as it is: a harmless false positive).
            found = self._references[sid] = "${" in repr(self.steps[sid].parameters)
        return found

    def policy(self, sid: str) -> RetryPolicy:
        """The retry policy of step ``sid`` (built when first needed)."""
        policy = self._policies.get(sid)
        if policy is None:
            policy = self._policies[sid] = _policy(self.steps[sid], self.settings)
        return policy

    def _key(self) -> tuple[object, ...]:
        return (self.plan, self.order, self.settings, self.seed, self.context, self.inline)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return isinstance(other, FlowSpec) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # equality by value, and not hashable

    def to_json(self) -> dict[str, JsonValue]:
        """Return the spec as JSON (the derived tables are rebuilt on load)."""
        return {
            "plan": self.plan.model_dump(mode="json"),
            "order": list(self.order),
            "settings": self.settings.to_json(),
            "seed": self.seed,
            "context": dict(self.context),
            "inline": self.inline,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlowSpec:
        """Rebuild a spec from :meth:`to_json`'s output."""
        return cls(
            PlanSpec.model_validate(data["plan"]),
            tuple(data["order"]),
            Settings(**data["settings"]),
            seed=int(data["seed"]),
            context=dict(data["context"]),
            inline=bool(data["inline"]),
        )


def _policy(step: StepSpec, settings: Settings) -> RetryPolicy:
    p = step.parameters

    def option(name: str, default: Any) -> Any:
        value = p.get(name)
        return default if value is None else value

    retry_on = option("retry_on", ())
    return RetryPolicy(
        max_retries=step.max_retries,
        delay=float(option("retry_delay", settings.retry_delay)),
        exponential=bool(option("exponential_backoff", settings.exponential_backoff)),
        max_delay=float(option("max_retry_delay", settings.max_retry_delay)),
        jitter=float(option("jitter", settings.jitter)),
        retry_on=tuple(str(name) for name in retry_on) if isinstance(retry_on, list) else (),
    )


def _timeout(step: StepSpec, settings: Settings) -> float | None:
    if step.timeout is not None:
        return step.timeout
    if step.type == "human_input":
        return settings.human_timeout
    return settings.default_step_timeout


def _output_key(step: StepSpec) -> str | None:
    key = step.parameters.get("output_key")
    if key is None and step.type == "human_input":
        key = HUMAN_KEYS.get(str(step.parameters.get("input_type", "input")))
    return key if isinstance(key, str) else None


class StepRecord(NamedTuple):
    """How one step of a running flow stands (a named tuple: one is made per change)."""

    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    """Attempts started so far (the first is 1)."""
    waiting_on: int = 0
    """Dependencies not yet terminal."""
    result: JsonValue = None
    error: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    live: int = 0
    """The attempt whose outcome is awaited (0: none)."""
    deadline: float | None = None
    """When the live attempt times out, or when the scheduled retry is due (epoch
    seconds)."""
    retrying: bool = False
    """A retry is scheduled (the step keeps its slot)."""
    offset: int = 0
    """Attempts made under earlier versions of the plan (a new plan changed the step):
    its retry budget counts from there, its attempt numbers go on."""

    def to_json(self) -> list[JsonValue]:
        """Return the record as a JSON list (field order)."""
        return [self.status.value, *self[1:]]

    @classmethod
    def from_json(cls, data: list[Any]) -> StepRecord:
        """Rebuild a record from :meth:`to_json`'s output."""
        status, *rest = data
        return cls(StepStatus(status), *rest)


class FlowCore(NamedTuple):
    """A flow's whole state, as the decider sees it. Never changed in place.

    ``results``, ``outputs``, ``unfinished`` and ``last_completed`` are derived from
    ``steps`` (kept to make decisions cheap; :meth:`create` derives them). A named tuple,
    as one is made per event.
    """

    spec: FlowSpec
    status: FlowStatus
    steps: Mapping[str, StepRecord]
    ready: tuple[str, ...]
    """Steps whose dependencies are terminal, waiting for a slot, in release order."""
    slots: int
    """Slots taken: running attempts plus steps waiting for a retry."""
    error: str | None
    started_at: float | None
    finished_at: float | None
    sweep_at: float | None
    """When the timeout sweep timer is due, if one is scheduled."""
    ignored: int
    """Outcomes of attempts that were no longer live (timed out, cancelled)."""
    finished: bool
    """The final checkpoint was saved and the flow replied."""
    results: Mapping[str, JsonValue]
    """Results by step id (derived)."""
    outputs: Mapping[str, JsonValue]
    """Results by output key (derived)."""
    unfinished: int
    """Steps not yet terminal (derived)."""
    last_completed: str | None
    """The completed step latest in the plan's order (derived)."""

    @classmethod
    def create(
        cls,
        spec: FlowSpec,
        status: FlowStatus,
        steps: Mapping[str, StepRecord],
        *,
        ready: tuple[str, ...] = (),
        slots: int = 0,
        error: str | None = None,
        started_at: float | None = None,
        finished_at: float | None = None,
        sweep_at: float | None = None,
        ignored: int = 0,
        finished: bool = False,
    ) -> FlowCore:
        """Return a state with its derived fields worked out from ``steps``."""
        results, outputs, unfinished, last = _derive(spec, steps)
        return cls(spec, status, steps, ready, slots, error, started_at, finished_at,
                   sweep_at, ignored, finished, results, outputs, unfinished, last)  # fmt: skip

    @property
    def flow_id(self) -> str:
        """The flow's id (its plan's)."""
        return self.spec.plan.id

    @property
    def is_running(self) -> bool:
        """Whether the flow has started and not ended."""
        return self.status is FlowStatus.RUNNING

    def variables(self) -> dict[str, JsonValue]:
        """The flow's variables: plan variables, context, results, output keys, and
        ``final_result`` once the flow completed."""
        variables: dict[str, JsonValue] = {**self.spec.base, **self.results, **self.outputs}
        if self.status is FlowStatus.COMPLETED and "final_result" not in self.outputs:
            last = self.last_completed
            variables["final_result"] = None if last is None else self.results[last]
        elif self.status in (FlowStatus.FAILED, FlowStatus.CANCELLED):
            variables.pop("final_result", None)
        return variables

    def to_json(self) -> dict[str, JsonValue]:
        """Return the state as JSON data; :meth:`from_json` gives an equal state back."""
        return {
            "spec": self.spec.to_json(),
            "status": self.status.value,
            "steps": {sid: rec.to_json() for sid, rec in self.steps.items()},
            "ready": list(self.ready),
            "slots": self.slots,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "sweep_at": self.sweep_at,
            "ignored": self.ignored,
            "finished": self.finished,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlowCore:
        """Rebuild a state from :meth:`to_json`'s output."""
        return cls.create(
            FlowSpec.from_json(data["spec"]),
            FlowStatus(data["status"]),
            {sid: StepRecord.from_json(rec) for sid, rec in data["steps"].items()},
            ready=tuple(data["ready"]),
            slots=int(data["slots"]),
            error=data["error"],
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            sweep_at=data["sweep_at"],
            ignored=int(data["ignored"]),
            finished=bool(data["finished"]),
        )


def _derive(
    spec: FlowSpec, steps: Mapping[str, StepRecord]
) -> tuple[dict[str, JsonValue], dict[str, JsonValue], int, str | None]:
    results: dict[str, JsonValue] = {}
    outputs: dict[str, JsonValue] = {}
    unfinished, last = 0, None
    for sid in spec.order:
        rec = steps[sid]
        if rec.status not in TERMINAL_STEP_STATES:
            unfinished += 1
        if rec.status is _COMPLETED:
            last = sid
        if rec.status is _COMPLETED or rec.result is not None:
            results[sid] = rec.result
            key = spec.output_keys[sid]
            if key is not None:
                outputs[key] = rec.result
    return results, outputs, unfinished, last
