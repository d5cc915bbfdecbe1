import asyncio
from actorflow import create_enhanced_flow, create_default_config

async def main():
    # Create enhanced flow
    flow = create_enhanced_flow()
    
    # Initialize with configuration
    config = create_default_config()
    config.enable_stream_callbacks = True
    config.enable_human_callbacks = True
    await flow.initialize(config)
    
    # Plan the flow
    plan = await flow.plan(
        goal="Analyze market trends and create report",
        context={"industry": "technology", "timeframe": "2024"}
    )
    
    # Execute the flow
    state = await flow.execute(plan)
    
    print(f"Flow completed with status: {state.status}")
    print(f"Execution time: {state.execution_time:.2f} seconds")

asyncio.run(main())
