"""The public names of actorflow.stores and the layering rule."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import actorflow.stores
from actorflow.errors import StoreError
from actorflow.messages import (
    Message,
    decode_message,
    encode_message,
    message_class,
    registered_kinds,
)
from tests.message_strategies import for_message

PACKAGE = Path(actorflow.stores.__file__).parent


def test_stores_all_is_pinned_and_sorted() -> None:
    assert actorflow.stores.__all__ == sorted(actorflow.stores.__all__)
    assert set(actorflow.stores.__all__) == {
        "CRASH_ENV", "CRASH_EXIT_CODE", "CRASH_POINTS", "Checkpoint", "CheckpointWrite",
        "CommitResult", "FlowDelete", "FlowSummary", "GetMemoryRequest", "GetMemoryResponse",
        "HUMAN_OPEN", "HumanRequestEntry", "HumanRequestPut", "HumanRequestStore",
        "JsonObject", "ListFlowsRequest", "ListFlowsResponse", "ListHumanRequestsRequest",
        "ListHumanRequestsResponse", "ListMemoryRequest",
        "ListMemoryResponse", "LoadCheckpointRequest", "LoadCheckpointResponse", "MemoryDelete",
        "MemoryEntry", "MemoryPurge", "MemoryPut", "MemoryRelease", "MemoryStore",
        "SCHEMA_VERSION", "STORE_PATH", "SaveCheckpointRequest", "SaveCheckpointResponse",
        "SqliteStore", "Store", "StoreKeeper", "StorePendingLog", "StoreRequestFailed",
        "StoreStatistics", "StoreWrite", "Synchronous", "Transaction", "WriteReceipt",
        "WriteRequest", "WriteResponse", "build_write", "failure_reply", "open_sqlite_store",
        "peek_human_requests", "spawn_store", "store_recipe",
    }  # fmt: skip


def test_every_exported_class_and_function_has_a_docstring() -> None:
    for name in actorflow.stores.__all__:
        obj = getattr(actorflow.stores, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, f"actorflow.stores.{name} has no docstring"


def test_store_message_kinds_are_registered_under_the_store_area() -> None:
    kinds = {
        k for k, c in registered_kinds().items() if c.__module__ == "actorflow.stores.messages"
    }

    assert kinds == {
        "store.save_checkpoint", "store.checkpoint_saved", "store.write", "store.written",
        "store.load_checkpoint", "store.checkpoint_loaded", "store.list_flows",
        "store.flows_listed", "store.get_memory", "store.memory_read", "store.list_memory",
        "store.memory_listed", "store.request_failed", "store.flush_writes",
        "store.list_human_requests", "store.human_requests_listed",
    }  # fmt: skip


def test_the_store_layer_never_imports_the_flow_layer_or_testing() -> None:
    for module in PACKAGE.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(("actorflow.flow", "actorflow.testing")), module.name


def test_store_errors_share_one_base() -> None:
    from actorflow import errors

    store_errors = [
        getattr(errors, n)
        for n in errors.__all__
        if n.startswith(("Store", "Checkpoint", "PlanMismatch"))
    ]

    assert len(store_errors) == 10
    assert all(issubclass(e, StoreError) for e in store_errors)


STORE_KINDS = sorted(
    k for k, c in registered_kinds().items() if c.__module__ == "actorflow.stores.messages"
)


@given(st.sampled_from(STORE_KINDS).flatmap(lambda kind: for_message(message_class(kind))))
def test_store_messages_survive_the_msgpack_round_trip(message: Message) -> None:
    assert decode_message(encode_message(message)) == message
