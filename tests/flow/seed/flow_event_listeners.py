from actorflow import FlowPlan, FlowState, FlowStep, IFlowEventListener, create_enhanced_flow


class FlowMonitor(IFlowEventListener):
    async def on_flow_started(self, flow_id: str, plan: FlowPlan) -> None:
        print(f"📊 Flow started: {plan.name} ({flow_id})")

    async def on_flow_completed(self, flow_id: str, state: FlowState) -> None:
        print(f"✅ Flow completed: {flow_id} in {state.execution_time:.2f}s")

    async def on_flow_failed(self, flow_id: str, state: FlowState, error: Exception) -> None:
        print(f"❌ Flow failed: {flow_id} - {error}")

    async def on_step_started(self, flow_id: str, step: FlowStep) -> None:
        print(f"🔄 Step started: {step.name}")

    async def on_step_completed(self, flow_id: str, step: FlowStep) -> None:
        print(f"✓ Step completed: {step.name}")

    async def on_step_failed(self, flow_id: str, step: FlowStep, error: Exception) -> None:
        print(f"✗ Step failed: {step.name} - {error}")

# Usage
flow = create_enhanced_flow()
monitor = FlowMonitor()
flow.add_event_listener(monitor)
