import asyncio
from actorflow import AgentCommunicationHub, AgentMessage, CommunicationType

async def main():
    hub = AgentCommunicationHub()
    
    # Agent 1 sends message to Agent 2
    message = AgentMessage(
        id="msg_001",
        sender_id="agent_1",
        receiver_id="agent_2",
        message_type=CommunicationType.REQUEST,
        content={
            "action": "analyze_data",
            "data": {"dataset": "sales_2024.csv"},
            "priority": "high"
        },
        requires_response=True,
        response_timeout=300
    )
    
    # Send message and wait for response
    response = await hub.send_message(message)
    print(f"Response received: {response}")
    
    # Agent 2 receives messages
    messages = await hub.receive_messages("agent_2")
    for msg in messages:
        print(f"Received: {msg.content}")
        
        # Send response
        await hub.send_response(msg.id, {
            "status": "completed",
            "result": "Analysis complete"
        })

asyncio.run(main())
