import asyncio
from actorflow import create_flow_step, create_enhanced_flow, FlowPlan

# Steps without dependencies can execute in parallel
step1 = create_flow_step("Task A", "parallel_task")
step2 = create_flow_step("Task B", "parallel_task") 
step3 = create_flow_step("Task C", "parallel_task")

# Synchronization step waits for all parallel tasks
sync_step = create_flow_step(
    "Synchronize Results", 
    "synchronization",
    dependencies=[step1.id, step2.id, step3.id]
)

async def main():
    flow = create_enhanced_flow()
    state = await flow.execute(FlowPlan(name="parallel", steps=[step1, step2, step3, sync_step]))
    print(f"status: {state.status.value}; joined: {sorted(state.steps[sync_step.id].result)}")

asyncio.run(main())
