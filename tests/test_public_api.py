from __future__ import annotations

import inspect
import subprocess
import sys

import actorflow
import actorflow.agents
import actorflow.human
import actorflow.journal
import actorflow.messages
import actorflow.runtime


def test_top_level_all_is_pinned_and_sorted() -> None:
    assert actorflow.__all__ == sorted(actorflow.__all__)
    assert set(actorflow.__all__) == {
        "AGENTS_PATH", "ActorNameTakenError", "ActorPath", "ActorStatistics", "ActorSystem",
        "ActorflowError", "AnyMessage", "Backoff", "GUARDIAN_STRATEGY", "AskError",
        "AskTimeoutError", "Attempt", "Behaviour", "CheckpointConflictError",
        "CheckpointRejectedError", "MemoryStore", "PlanMismatchError", "SqliteMemoryManager",
        "SqliteStateManager", "SqliteStore", "Store", "StoreClosedError", "StoreCorruptedError",
        "StoreDataError", "StoreError", "StoreLockedError", "StoreSchemaError",
        "StoreTransientError", "Synchronous", "open_sqlite_store", "spawn_store",
        "BlockingCallError", "Clock", "ClockError", "CodecError", "ConditionError",
        "ConditionEvaluationError", "ConfigurationError", "Context", "CorrelationId",
        "DeadLetter", "DeadLetterReason", "DeliveryFailed", "DeliveryFailedError", "Directive",
        "DuplicateKindError", "DuplicateStepError", "Durability", "EffectCompleted",
        "EffectError", "EffectFailed", "EffectPoolExhaustedError", "EffectResultError",
        "EffectStatistics", "EnhancedFlow",
        "EnhancedFlowExecutor", "EnhancedFlowPlanner", "Envelope", "EscalationError",
        "FLOWS_PATH", "FakeClock", "FlowConfig", "FlowDefinitionError", "FlowError", "FlowPlan",
        "FlowState", "FlowStatus", "FlowStep", "FlowFailedError", "IFlowEventListener",
        "IStreamCallback", "LoggingStreamCallback", "StreamCallbackData", "StreamCallbackManager",
        "StreamCallbackType", "StreamOverflow", "Subscription", "emit_stream", "report_file",
        "report_progress", "HumanCallbackData", "HumanCallbackResponse",
        "HumanCallbackType", "IFlowPlanner", "IHumanCallback", "InMemoryMemoryManager",
        "InMemoryStateManager", "InvalidMessageError", "InvalidStepParametersError",
        "JournalConfig", "JournalCorruptedError", "JournalError", "JournalTornError",
        "MailboxConfig", "MailboxFullError", "Message", "MessageError", "MessageFrozenError",
        "MessageId",
        "MissingDependencyError", "NonRetryableStepError", "OverflowPolicy", "PlanCycleError",
        "Recipe", "RequestTimedOut", "RetryableStepError", "StepHTTPError", "RestartType",
        "RoutingError", "RunId", "SYSTEM_PATH",
        "ScriptedHumanCallback", "ShutdownTimeoutError", "StepFailedError", "StepResultError",
        "StepStatus",
        "SupervisionError", "SupervisorStrategy", "SystemClock", "SystemStatistics",
        "SystemStoppedError", "UnknownActorError", "UnknownKindError", "UnknownStepTypeError",
        "__version__", "actor_path", "always", "create_default_config", "create_enhanced_flow",
        "create_flow_step", "create_interactive_flow", "current_attempt", "decide_by_type",
        "generate_flow_id", "idempotency_key", "open_journal", "recipe", "register_step_type",
        "AlreadyAnsweredError", "ConsoleHumanCallback", "HumanCallbackManager",
        "HumanInputError", "HumanRequestFailedError", "HumanResponseExpiredError",
        "HumanTimeoutError", "InvalidHumanAnswerError", "UnknownHumanRequestError",
        "AgentInfo", "AgentRole", "BaseAgent", "Conflict", "ConflictType",
        "MultiAgentOrchestrator", "OrchestrationResult", "create_multi_agent_flow",
        "create_multi_agent_orchestrator", "AgentError", "AgentCrashedError",
        "UnknownAgentError", "AgentTaskFailedError", "AgentResponseTimeoutError",
        "ResourceError", "UnknownResourceError", "ResourceCapacityError",
        "ResourceTimeoutError", "DeadlockError", "LeaseError", "ConflictError",
        "AgentCommunicationHub", "AgentMessage", "CommunicationType", "ConflictResolution",
        "ConflictResolver", "register_secret", "redact",
    }  # fmt: skip


def test_every_exported_name_exists_and_has_a_docstring() -> None:
    for module in (
        actorflow,
        actorflow.messages,
        actorflow.runtime,
        actorflow.flow,
        actorflow.human,
        actorflow.agents,
    ):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert obj.__doc__, f"{module.__name__}.{name} has no docstring"


def test_subpackage_all_lists_are_sorted() -> None:
    for module in (actorflow.messages, actorflow.runtime, actorflow.human, actorflow.agents):
        assert module.__all__ == sorted(module.__all__)


def test_every_error_is_an_actorflow_error() -> None:
    from actorflow import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ActorflowError)


def test_the_library_is_silent_by_default() -> None:
    code = (
        "import actorflow\n"
        "from tests.support import Work\n"
        "with actorflow.ActorSystem() as s:\n"
        "    s.tell('/agents/nobody', Work())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout == ""
    assert done.stderr == ""
