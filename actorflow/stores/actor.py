"""The store actor: owns a backend at ``/system/store`` and answers requests by message.

Writes are group-committed: a write request is held and the actor tells itself
:class:`~actorflow.stores.messages.FlushWrites`; that message queues behind every request
already in the mailbox, so when it arrives, all writes received meanwhile are committed
in one backend transaction (one sync), each request still all-or-nothing. A batch is
also committed as soon as it reaches ``max_batch`` requests, and before any read (a
reader sees every write it was told about). Each request is answered once its commit
ended: with its ``…Response``, or :class:`StoreRequestFailed` naming the typed error.
No request is left unanswered: an unexpected error answers the whole batch before it
reaches the actor's supervisor.

A checkpoint may come as a patch on the flow's previous version (``patch_of``, see
:class:`~actorflow.stores.messages.SaveCheckpointRequest`): the actor hands it to the
backend as a patch (``CheckpointWrite.patch_of``), which stores only the change and
refuses a patch on another version than the stored one, so a checkpoint costs what
changed, not the whole state.

The actor is the backend's only writer; it runs on a thread of its own, or on the flows'
event loop for a backend that never waits on the disk (see :func:`spawn_store`). The
caller owns the backend: close it after the actor system has shut down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, final

from actorflow._trusted import trusted
from actorflow.errors import StoreError, StoreTransientError
from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.runtime.behaviour import Behaviour, Recipe, recipe
from actorflow.runtime.context import Context
from actorflow.runtime.system import SYSTEM_PATH, ActorSystem
from actorflow.stores.messages import (
    FlushWrites,
    GetMemoryRequest,
    GetMemoryResponse,
    ListFlowsRequest,
    ListFlowsResponse,
    ListHumanRequestsRequest,
    ListHumanRequestsResponse,
    ListMemoryRequest,
    ListMemoryResponse,
    LoadCheckpointRequest,
    LoadCheckpointResponse,
    SaveCheckpointRequest,
    SaveCheckpointResponse,
    StoreRequestFailed,
    WriteRequest,
    WriteResponse,
)
from actorflow.stores.protocol import CommitResult, HumanRequestStore, Store
from actorflow.stores.records import CheckpointWrite, Transaction

__all__ = ["STORE_PATH", "StoreKeeper", "failure_reply", "spawn_store", "store_recipe"]

STORE_PATH = ActorPath("/system/store")
"""Where the actor system hosts its store actor."""
DEFAULT_MAX_BATCH = 256


def failure_reply(request_kind: str, error: BaseException) -> StoreRequestFailed:
    """Return the reply that tells a requester ``error`` refused its request."""
    transient = isinstance(error, StoreTransientError)
    return StoreRequestFailed(
        request_kind=request_kind,
        error_type=type(error).__name__,
        error=str(error),
        transient=transient,
        committed=error.committed if isinstance(error, StoreTransientError) else False,
    )


@final
class StoreKeeper(Behaviour):
    """Behaviour of the store actor: the single writer of one backend.

    Args:
        store: the backend (the caller closes it after the system stops).
        max_batch: most write requests committed together.
    """

    def __init__(self, store: Store, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max(1, max_batch)
        self.pending: list[tuple[Envelope, Transaction]] = []
        self.flush_queued = False

    # -- writes ------------------------------------------------------------------------

    def on_save_checkpoint_request(self, msg: SaveCheckpointRequest, ctx: Context) -> None:
        """Hold a checkpoint for the next group commit (a patch stays a patch: the backend
        stores only the change)."""
        write = msg.write
        if msg.patch_of is not None and write.patch_of is None:
            # The request was validated when it was built: copy its fields as they are.
            fields = {**write.__dict__, "patch_of": msg.patch_of, "merge": msg.merge}
            write = trusted(CheckpointWrite, **fields)
        self._hold((write,), ctx)

    def on_write_request(self, msg: WriteRequest, ctx: Context) -> None:
        """Hold a transaction for the next group commit."""
        self._hold(tuple(msg.writes), ctx)

    def on_flush_writes(self, msg: FlushWrites, ctx: Context) -> None:
        """Commit what was held (every request queued before this message)."""
        self.flush_queued = False
        self._flush(ctx)

    def on_stop(self, ctx: Context) -> None:
        """Commit and answer what is still held (the actor's thread or loop, at stop or
        restart)."""
        self._flush(ctx)

    def _hold(self, transaction: Transaction, ctx: Context) -> None:
        assert ctx.envelope is not None
        self.pending.append((ctx.envelope, transaction))
        if len(self.pending) >= self.max_batch:
            self._flush(ctx)
        elif not self.flush_queued:
            self.flush_queued = True
            ctx.tell(ctx.path, FlushWrites())

    def _flush(self, ctx: Context) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            results = self.store.commit_many([transaction for _, transaction in batch])
        except StoreError as exc:
            ctx.log.warning("Group commit of {n} requests failed: {error}", n=len(batch), error=exc)
            self._fail_all(batch, exc, ctx)
            return
        except Exception as exc:
            self._fail_all(batch, exc, ctx)
            raise
        ctx.log.debug("Committed {n} requests in one transaction", n=len(batch))
        for (env, _), result in zip(batch, results, strict=True):
            self._answer(env, _write_reply(env.message, result), ctx)

    def _fail_all(
        self, batch: list[tuple[Envelope, Transaction]], error: BaseException, ctx: Context
    ) -> None:
        for env, _ in batch:
            self._answer(env, failure_reply(env.message.kind_tag or "?", error), ctx)

    # -- reads -------------------------------------------------------------------------

    def on_load_checkpoint_request(self, msg: LoadCheckpointRequest, ctx: Context) -> None:
        """Answer with a flow's checkpoint."""
        store = self.store
        self._read(
            lambda: LoadCheckpointResponse(
                checkpoint=store.load_checkpoint(msg.flow_id, version=msg.version)
            ),
            ctx,
        )

    def on_list_flows_request(self, msg: ListFlowsRequest, ctx: Context) -> None:
        """Answer with every stored flow."""
        self._read(lambda: ListFlowsResponse(flows=self.store.list_flows()), ctx)

    def on_get_memory_request(self, msg: GetMemoryRequest, ctx: Context) -> None:
        """Answer with one memory entry."""
        self._read(
            lambda: GetMemoryResponse(entry=self.store.get_memory(msg.flow_id, msg.key)), ctx
        )

    def on_list_memory_request(self, msg: ListMemoryRequest, ctx: Context) -> None:
        """Answer with a flow's memory keys."""
        self._read(lambda: ListMemoryResponse(keys=self.store.list_memory(msg.flow_id)), ctx)

    def on_list_human_requests_request(self, msg: ListHumanRequestsRequest, ctx: Context) -> None:
        """Answer with the stored human requests (none from a backend that keeps none)."""
        store = self.store

        def read() -> Message:
            if not isinstance(store, HumanRequestStore):
                return ListHumanRequestsResponse(requests=())
            return ListHumanRequestsResponse(
                requests=store.list_human_requests(open_only=msg.open_only)
            )

        self._read(read, ctx)

    def _read(self, read: Callable[[], Message], ctx: Context) -> None:
        env = ctx.envelope
        assert env is not None
        self._flush(ctx)  # a reader sees every write received before its request
        try:
            reply = read()
        except StoreError as exc:
            ctx.log.warning("{kind} failed: {error}", kind=env.message.kind_tag, error=exc)
            reply = failure_reply(env.message.kind_tag or "?", exc)
        self._answer(env, reply, ctx)

    def _answer(self, env: Envelope, reply: Message, ctx: Context) -> None:
        if env.reply_to is None and env.sender is None:
            ctx.log.warning(
                "{kind} came from outside without a reply slot; its answer {reply} is dropped. "
                "Use ActorSystem.ask() or ctx.request() to hear back.",
                kind=env.message.kind_tag,
                reply=reply.kind_tag,
            )
            return
        ctx.reply(reply, to=env)


def _write_reply(request: Message, result: CommitResult) -> Message:
    if isinstance(result, StoreError):
        return failure_reply(request.kind_tag or "?", result)
    # The receipts were made by the backend in this process: no need to validate them.
    if isinstance(request, SaveCheckpointRequest):
        return trusted(SaveCheckpointResponse, receipt=result[0])
    return trusted(WriteResponse, receipts=result)


def store_recipe(store: Store, *, max_batch: int = DEFAULT_MAX_BATCH) -> Recipe:
    """Return the recipe of a store actor over ``store``."""
    return recipe(StoreKeeper, store, max_batch=max_batch)


def spawn_store(
    system: ActorSystem,
    store: Store,
    *,
    name: str = "store",
    parent: ActorPath = SYSTEM_PATH,
    max_batch: int = DEFAULT_MAX_BATCH,
    dispatcher: Literal["thread", "loop"] | None = None,
) -> ActorPath:
    """Spawn the store actor over ``store`` (by default at ``/system/store``); return its path.

    Where it runs follows ``store.is_blocking`` unless ``dispatcher`` says: a backend whose
    commits wait on the disk (SQLite with ``synchronous="full"``, or one that does not
    say) gets a thread of its own; one that never waits (a ``MemoryStore``, SQLite with
    ``normal`` or ``off``) runs on the flows' event loop, so a checkpoint's request, commit
    and reply take no thread hand-off. The caller closes ``store`` after the system has
    shut down.

    Raises:
        ActorNameTakenError: a store actor already runs there.
    """
    chosen = dispatcher or ("thread" if store.is_blocking else "loop")
    return system.spawn(
        store_recipe(store, max_batch=max_batch), name, parent=parent, dispatcher=chosen
    )
