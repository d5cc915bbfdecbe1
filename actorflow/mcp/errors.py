"""Errors of MCP calls, classified for the flow's retry rules.

::

    RetryableStepError
    └── MCPConnectionError      the connection was lost or could not be made (retried)
    NonRetryableStepError
    ├── MCPToolError            the server reported the call failed (``isError``, or a
    │                           JSON-RPC error answer): its text, never retried
    └── MCPArgumentsError       the arguments do not fit the tool's input schema

A missing SDK is a :class:`~actorflow.errors.ConfigurationError` that says
``pip install 'actorflow[mcp]'``.
"""

from __future__ import annotations

from actorflow.errors import NonRetryableStepError, RetryableStepError

__all__ = ["MCPArgumentsError", "MCPConnectionError", "MCPToolError"]


class MCPConnectionError(RetryableStepError):
    """The connection to an MCP server was lost, or could not be made, before a call got
    its answer; a retry (after the client reconnects) may succeed."""


class MCPToolError(NonRetryableStepError):
    """An MCP server answered a tool call with an error (``isError``, or a JSON-RPC
    error); the message is the server's text. Retrying the same call cannot help.

    Attributes:
        tool: the tool's name.
        server_text: the server's own error text.
    """

    def __init__(self, message: str, *, tool: str, server_text: str) -> None:
        super().__init__(message)
        self.tool = tool
        self.server_text = server_text


class MCPArgumentsError(NonRetryableStepError):
    """A tool call's arguments do not fit the tool's input schema (checked before the
    call is sent, against the schema the server lists)."""
