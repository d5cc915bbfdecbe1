import asyncio

from actorflow import LoggingStreamCallback, StreamCallbackType
from actorflow import create_enhanced_flow

class CustomStreamCallback(LoggingStreamCallback):
    async def on_stream_event(self, data):
        if data.type == StreamCallbackType.THINKING:
            print(f"🤔 AI is thinking: {data.content}")
        elif data.type == StreamCallbackType.TOOL_USE:
            print(f"🔧 Using tool: {data.content}")
        elif data.type == StreamCallbackType.ERROR:
            print(f"❌ Error occurred: {data.content}")
        else:
            await super().on_stream_event(data)

async def main():
    flow = create_enhanced_flow()
    
    # Add custom stream callback
    callback = CustomStreamCallback()
    flow.add_stream_callback(callback)
    
    # Execute with real-time updates
    async for update in flow.stream_execute():
        print(f"Stream update: {update.type.value}")

asyncio.run(main())
