"""Agents: behaviours, orchestrator, communication hub, resource allocator, conflict resolver."""
