"""``RecordedModelClient``: answers from a list, a JSON file or a journal, for tests and
replay.

Responses are served in order; a recorded response that carries the fingerprint of its
request (as every journaled call does) is served to the call with the same request
first, whatever the order. Served calls are journaled and emit their stream events as a
live client's would, so a run on recordings looks like the run it replays.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from actorflow.errors import ConfigurationError
from actorflow.models.client import BaseModelClient
from actorflow.models.errors import (
    ModelError,
    ModelRequestError,
    ModelResponseError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from actorflow.models.scope import MODEL_EFFECT
from actorflow.models.types import ModelRequest, ModelResponse

if TYPE_CHECKING:
    from actorflow.runtime.system import ActorSystem

__all__ = ["Recorded", "RecordedModelClient", "recordings_from_journal"]

Recorded = ModelResponse | ModelError | str | Mapping[str, Any]
"""One recording: a response, an error to raise, a text (the answer's content), or a
dict (a response's fields, or a journaled call's value: ``{"fingerprint", "response"}``
or ``{"error": {"type", "message", "status_code"}}``)."""

_ERRORS: dict[str, type[ModelError]] = {
    cls.__name__: cls
    for cls in (ModelRequestError, ModelUnavailableError, ModelTimeoutError, ModelResponseError)
}


class RecordedModelClient(BaseModelClient):
    """A model client that answers from recordings (see the module docstring).

    Args:
        responses: the recordings, in order.
        model: the model name calls are made (and journaled) with.
        system: journals calls made outside an agent.

    Raises:
        ConfigurationError: a recording is not a response, an error, a text or a dict of one.
    """

    def __init__(
        self,
        responses: Iterable[Recorded],
        *,
        model: str = "recorded",
        system: ActorSystem | None = None,
    ) -> None:
        super().__init__(model, system=system)
        self._queue: list[tuple[str | None, ModelResponse | ModelError]] = [
            _recording(item, n) for n, item in enumerate(responses, 1)
        ]
        self.requests: list[ModelRequest] = []
        """The requests served so far, in order (for tests)."""

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> RecordedModelClient:
        """Recordings from a JSON file holding a list of recordings (see :data:`Recorded`).

        Raises:
            ConfigurationError: the file cannot be read or is not such a list.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"Cannot read recordings from {str(path)!r}: {exc}.") from None
        if not isinstance(data, list):
            raise ConfigurationError(f"Recordings file {str(path)!r} must hold a JSON list.")
        return cls(data, **options)

    @classmethod
    def from_journal(cls, records: Iterable[object], **options: Any) -> RecordedModelClient:
        """Recordings of the model calls journaled in ``records`` (a journal reader's
        records), for a replay that needs no endpoint."""
        return cls(recordings_from_journal(records), **options)

    @property
    def remaining(self) -> int:
        """Recordings not served yet."""
        return len(self._queue)

    async def _send(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        item = self._take(request)
        if isinstance(item, ModelError):
            raise item
        return item

    def _take(self, request: ModelRequest) -> ModelResponse | ModelError:
        if not self._queue:
            raise ModelResponseError(
                f"RecordedModelClient has no recorded response left for call "
                f"{len(self.requests)} (model {request.model!r}); record more responses."
            )
        fingerprint = request.fingerprint()
        for index, (recorded, item) in enumerate(self._queue):
            if recorded == fingerprint:
                del self._queue[index]
                return item
        for index, (recorded, item) in enumerate(self._queue):
            if recorded is None:
                del self._queue[index]
                return item
        _, item = self._queue.pop(0)  # a replay with a changed request: serve in order
        return item


def recordings_from_journal(records: Iterable[object]) -> list[Mapping[str, Any]]:
    """The values of the ``model`` effects in journal ``records``, in journal order."""
    found: list[Mapping[str, Any]] = []
    for record in records:
        message = getattr(record, "message", None)
        if getattr(message, "effect", None) != MODEL_EFFECT:
            continue
        value = getattr(message, "value", None)
        if isinstance(value, Mapping):
            found.append(value)
    return found


def _recording(item: Recorded, n: int) -> tuple[str | None, ModelResponse | ModelError]:
    if isinstance(item, ModelResponse | ModelError):
        return None, item
    if isinstance(item, str):
        return None, ModelResponse(content=item)
    if isinstance(item, Mapping):
        fingerprint = item.get("fingerprint")
        key = fingerprint if isinstance(fingerprint, str) else None
        try:
            if isinstance(item.get("error"), Mapping):
                return key, _error(item["error"])
            if "response" in item or "fingerprint" in item:
                return key, ModelResponse.model_validate(item.get("response") or {})
            return None, ModelResponse.model_validate(item)
        except ValidationError as exc:
            problem = str(exc).splitlines()[-1].strip()
            raise ConfigurationError(f"Recording {n} is not a valid response: {problem}.") from None
    raise ConfigurationError(
        f"Recording {n} is a {type(item).__name__}; give a ModelResponse, a ModelError, a "
        "text or a dict."
    )


def _error(data: Mapping[str, Any]) -> ModelError:
    cls = _ERRORS.get(str(data.get("type")), ModelUnavailableError)
    status = data.get("status_code")
    return cls(
        str(data.get("message", "recorded failure")),
        status_code=status if isinstance(status, int) else None,
    )
