import asyncio
from actorflow import ConflictResolver, Conflict, ConflictType

async def main():
    resolver = ConflictResolver()
    
    # Define a resource conflict
    conflict = Conflict(
        id="conflict_001",
        conflict_type=ConflictType.RESOURCE_CONFLICT,
        description="Two agents need the same GPU resource",
        involved_agents=["agent_1", "agent_2"],
        involved_tasks=["task_1", "task_2"],
        severity=3
    )
    
    # Resolve conflict
    resolution = await resolver.resolve_conflict(conflict, agents, tasks)
    print(f"Conflict resolved: {resolution}")

asyncio.run(main())
