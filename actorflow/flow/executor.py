"""The seed's EnhancedFlowExecutor: how one step runs.

Flow actors call ``executor.execute_step(step, context)`` on the effects runner for
every step attempt (except ``agent`` steps, which the flow actor sends itself), so a
subclass — such as the seed's ``RobustFlowExecutor`` — changes how steps run without
touching the actors.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from actorflow.flow.models import FlowStep
from actorflow.flow.state import (
    IMemoryManager,
    InMemoryMemoryManager,
    InMemoryStateManager,
    IStateManager,
)
from actorflow.flow.steps import StepContext, ToolRegistry, _call, step_type
from actorflow.flow.tools import register_builtin_tools

__all__ = ["EnhancedFlowExecutor"]


class EnhancedFlowExecutor:
    """Runs steps by type; holds the tools and the state and memory managers.

    Attributes:
        state_manager: where flow checkpoints go (assignable, as in the seed).
        memory_manager: per-flow memory (assignable).
        tools: the in-process tool registry.
        mcp_client: used for tools that are not registered in-process.
        logger: a loguru logger (silent unless ``actorflow`` logging is enabled).
    """

    def __init__(
        self,
        mcp_client: Any = None,
        *,
        tools: ToolRegistry | None = None,
        state_manager: IStateManager | None = None,
        memory_manager: IMemoryManager | None = None,
    ) -> None:
        self.mcp_client = mcp_client
        self.tools = tools or ToolRegistry()
        register_builtin_tools(self.tools)
        self.state_manager: IStateManager = state_manager or InMemoryStateManager()
        self.memory_manager: IMemoryManager = memory_manager or InMemoryMemoryManager()
        self.logger = logger.bind(component="flow.executor")

    async def execute_step(self, step: FlowStep, context: dict[str, Any]) -> Any:
        """Run one attempt of ``step`` and return its result (runs on the effects loop).

        Raises:
            Exception: whatever the step raised; the flow actor decides on retries.
        """
        info = step_type(step.type)
        assert isinstance(context, StepContext), "flow actors pass a StepContext"
        handler = info.handler
        if info.is_async:
            return await handler(step, context)
        return await _call(lambda: handler(step, context))
