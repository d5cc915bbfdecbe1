"""Messages of the resource allocator at ``/agents/resources``.

=======================  ===========================================================
Sent to the allocator    Its answer (to the reply slot, or to the sender)
=======================  ===========================================================
DefineResource           ResourceDefined, or ResourceRefused
AcquireResource          ResourceGranted when granted (maybe after waiting), or
                         ResourceRefused (unknown resource, too big, timed out,
                         aborted to break a deadlock, holder gone)
ReleaseResource          ResourceReleased, or ResourceRefused (LeaseError)
CancelAcquire            nothing (a waiting request is dropped; a granted one released)
GetResourceStatistics    ResourceStatistics
=======================  ===========================================================

A refusal carries the error's type and message (``ErrorInfo``); the outside API
(``actorflow.agents.resources.acquire_resource``) raises it as that class.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from actorflow.errors import ResourceError
from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.messages.system import ErrorInfo

__all__ = [
    "AcquireResource",
    "CancelAcquire",
    "DefineResource",
    "GetResourceStatistics",
    "HolderGoneError",
    "LeaseInfo",
    "ReleaseResource",
    "RequestExpired",
    "ResourceDefined",
    "ResourceGranted",
    "ResourceRefused",
    "ResourceReleased",
    "ResourceSnapshot",
    "ResourceStatistics",
    "WaitingInfo",
]


class HolderGoneError(ResourceError):
    """A request's holder is not a live actor, or stopped or restarted while it waited."""


class DefineResource(Message):
    """Declare a resource, or change its capacity (not below what is in use)."""

    kind: Literal["resources.define"] = "resources.define"
    name: str
    """Not empty (an empty name is refused)."""
    capacity: int = Field(ge=1)
    """How many units exist (``"gpu": 1``)."""


class ResourceDefined(Message):
    """The answer to :class:`DefineResource`."""

    kind: Literal["resources.defined"] = "resources.defined"
    name: str
    capacity: int


class AcquireResource(Message):
    """Ask for ``amount`` units of ``resource`` on behalf of ``holder``.

    The request waits in the resource's queue (higher ``priority`` first, first come
    first within a priority) until it is granted, refused, times out, or its holder
    stops or restarts.
    """

    kind: Literal["resources.acquire"] = "resources.acquire"
    resource: str
    amount: int = Field(default=1, ge=1)
    priority: int = 0
    """Higher is served first."""
    holder: ActorPath
    """The actor the lease belongs to. Explicit, because a request from an agent's async
    work comes from a temporary ask slot, not from the agent's own path."""
    timeout: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """Seconds (system clock) the request may wait; ``None`` waits until granted, ``0``
    is granted at once or refused."""
    task_id: str = ""
    """The task the resource is for (reported in deadlock conflicts)."""
    request_id: str = ""
    """Names the request (for :class:`CancelAcquire`); the allocator makes one if empty."""
    watch_holder: bool = True
    """Release the holder's leases when it stops or restarts; the holder must then be a
    live actor. ``False`` for a holder that is no actor (a script): its leases live until
    released."""


class ResourceGranted(Message):
    """The answer to :class:`AcquireResource`: the lease."""

    kind: Literal["resources.granted"] = "resources.granted"
    lease_id: str
    resource: str
    amount: int
    holder: ActorPath
    request_id: str
    task_id: str = ""
    priority: int = 0


class ResourceRefused(Message):
    """A request, a release or a definition that could not be done, and why."""

    kind: Literal["resources.refused"] = "resources.refused"
    resource: str = ""
    request_id: str = ""
    lease_id: str = ""
    error: ErrorInfo
    """The error's qualified type name and message."""


class ReleaseResource(Message):
    """Give a lease back."""

    kind: Literal["resources.release"] = "resources.release"
    lease_id: str


class ResourceReleased(Message):
    """The answer to :class:`ReleaseResource`."""

    kind: Literal["resources.released"] = "resources.released"
    lease_id: str
    resource: str
    amount: int


class CancelAcquire(Message):
    """Withdraw a request: dropped if it waits, its lease released if it was granted
    (its answer may not have reached the asker). Not answered."""

    kind: Literal["resources.cancel_acquire"] = "resources.cancel_acquire"
    request_id: str


class RequestExpired(Message):
    """The allocator's own timer: a waiting request's timeout passed."""

    kind: Literal["resources.request_expired"] = "resources.request_expired"
    request_id: str


class GetResourceStatistics(Message):
    """Ask the allocator for a snapshot of every resource."""

    kind: Literal["resources.get_statistics"] = "resources.get_statistics"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class LeaseInfo(_Data):
    """A lease held."""

    lease_id: str
    holder: ActorPath
    amount: int
    task_id: str = ""


class WaitingInfo(_Data):
    """A request in a resource's queue."""

    request_id: str
    holder: ActorPath
    amount: int
    priority: int
    task_id: str = ""


class ResourceSnapshot(_Data):
    """One resource: capacity, what is in use and by whom, and its queue."""

    name: str
    capacity: int
    in_use: int
    leases: tuple[LeaseInfo, ...] = ()
    queue: tuple[WaitingInfo, ...] = ()
    """In service order (the head is served first)."""

    @property
    def holders(self) -> dict[ActorPath, int]:
        """Units held per holder."""
        held: dict[ActorPath, int] = {}
        for lease in self.leases:
            held[lease.holder] = held.get(lease.holder, 0) + lease.amount
        return held


class ResourceStatistics(Message):
    """The answer to :class:`GetResourceStatistics`."""

    kind: Literal["resources.statistics"] = "resources.statistics"
    resources: tuple[ResourceSnapshot, ...] = ()
    """By name."""
    granted: int = 0
    """Leases granted since the allocator started."""
    released: int = 0
    """Leases released (by their holder, or because the holder went down)."""
    released_on_holder_down: int = 0
    refused: int = 0
    """Requests refused, whatever the reason (timeouts and deadlocks included)."""
    timed_out: int = 0
    deadlocks: int = 0
    """Wait-for cycles found."""
    deadlocks_broken: int = 0
    """Cycles broken by aborting a request (by the resolver's answer or the fallback)."""

    def resource(self, name: str) -> ResourceSnapshot:
        """Return the snapshot of ``name``.

        Raises:
            KeyError: no such resource.
        """
        for snapshot in self.resources:
            if snapshot.name == name:
                return snapshot
        raise KeyError(name)
