"""Flows: the seed's flow API, with plans run as DAGs by flow actors.

Modules: ``models`` (FlowStep, FlowPlan, FlowState, FlowConfig), ``conditions`` (the
safe expression language), ``steps`` (step types, tools, references), ``validation``,
``executor`` (EnhancedFlowExecutor), ``runner`` (the flow actor), ``planner``,
``state`` (state and memory managers), ``human`` (human callbacks), ``attempt``
(idempotency keys), ``events`` (flow events as stream events), ``listeners`` (flow
event listeners), ``streaming`` (events from inside steps), ``streamed`` (the facade's
callbacks and ``stream_execute``), ``facade`` (EnhancedFlow).
"""

from __future__ import annotations

from actorflow.flow.attempt import Attempt, current_attempt, idempotency_key
from actorflow.flow.executor import EnhancedFlowExecutor
from actorflow.flow.expressions import Condition, ConditionLimits, evaluate_condition
from actorflow.flow.facade import EnhancedFlow, create_enhanced_flow, create_interactive_flow
from actorflow.flow.human import (
    HumanCallbackData,
    HumanCallbackResponse,
    HumanCallbackType,
    IHumanCallback,
    ScriptedHumanCallback,
)
from actorflow.flow.listeners import IFlowEventListener
from actorflow.flow.messages import AgentTask, AgentTaskDone
from actorflow.flow.models import (
    FlowConfig,
    FlowPlan,
    FlowState,
    FlowStatus,
    FlowStep,
    PlanSpec,
    StepSpec,
    StepState,
    StepStatus,
    create_default_config,
    create_flow_step,
    generate_flow_id,
)
from actorflow.flow.planner import EnhancedFlowPlanner, IFlowPlanner, PlanningError
from actorflow.flow.state import (
    IMemoryManager,
    InMemoryMemoryManager,
    InMemoryStateManager,
    IStateManager,
    SqliteMemoryManager,
    SqliteStateManager,
)
from actorflow.flow.steps import StepContext, StepType, ToolRegistry, register_step_type
from actorflow.flow.streaming import emit_stream, report_file, report_progress
from actorflow.flow.validation import validate_plan
from actorflow.streams import (
    IStreamCallback,
    LoggingStreamCallback,
    StreamCallbackData,
    StreamCallbackType,
    StreamOverflow,
    Subscription,
)
from actorflow.streams.manager import StreamCallbackManager

__all__ = [
    "AgentTask",
    "AgentTaskDone",
    "Attempt",
    "Condition",
    "ConditionLimits",
    "EnhancedFlow",
    "EnhancedFlowExecutor",
    "EnhancedFlowPlanner",
    "FlowConfig",
    "FlowPlan",
    "FlowState",
    "FlowStatus",
    "FlowStep",
    "HumanCallbackData",
    "HumanCallbackResponse",
    "HumanCallbackType",
    "IFlowEventListener",
    "IFlowPlanner",
    "IHumanCallback",
    "IMemoryManager",
    "IStateManager",
    "IStreamCallback",
    "InMemoryMemoryManager",
    "InMemoryStateManager",
    "LoggingStreamCallback",
    "PlanSpec",
    "PlanningError",
    "ScriptedHumanCallback",
    "SqliteMemoryManager",
    "SqliteStateManager",
    "StepContext",
    "StepSpec",
    "StepState",
    "StepStatus",
    "StepType",
    "StreamCallbackData",
    "StreamCallbackManager",
    "StreamCallbackType",
    "StreamOverflow",
    "Subscription",
    "ToolRegistry",
    "create_default_config",
    "create_enhanced_flow",
    "create_flow_step",
    "create_interactive_flow",
    "current_attempt",
    "emit_stream",
    "evaluate_condition",
    "generate_flow_id",
    "idempotency_key",
    "register_step_type",
    "report_file",
    "report_progress",
    "validate_plan",
]
