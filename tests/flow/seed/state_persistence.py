from actorflow import EnhancedFlow, InMemoryStateManager, InMemoryMemoryManager
import asyncio

async def main():
    # Create flow with custom state management
    state_manager = InMemoryStateManager()
    memory_manager = InMemoryMemoryManager()
    
    flow = EnhancedFlow()
    flow.executor.state_manager = state_manager
    flow.executor.memory_manager = memory_manager
    
    # Execute long-running flow
    plan = await flow.plan("Long-running data processing task")
    
    # Store important data in memory
    await memory_manager.store_memory(plan.id, "checkpoint_1", {"progress": 25})
    
    # Execute with state persistence
    state = await flow.execute(plan)
    
    # Retrieve stored memory
    checkpoint = await memory_manager.retrieve_memory(plan.id, "checkpoint_1")
    print(f"Retrieved checkpoint: {checkpoint}")

asyncio.run(main())
