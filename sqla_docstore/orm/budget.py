"""A session's request budget: RavenDB's MaxNumberOfRequestsPerSession, per backend call."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import RequestBudgetError

#: RavenDB's default ``DocumentConventions.max_number_of_requests_per_session``.
DEFAULT_MAX_REQUESTS = 30

_KIND_NAMES = {
    "load": "a load",
    "query": "a query",
    "batch": "a batch (commit)",
    "schema": "a schema lookup",
}


class RequestBudget:
    """Counts the backend calls of one session and refuses the one over ``limit``.

    ``before_request(kind)`` is installed as the backend connection's ``before_request`` hook,
    which the backend calls *before* sending a counted request; raising there means the call is
    never sent. ``limit=None`` counts without limiting. HiLo range fetches never reach the hook
    (RavenDB does not count them either).
    """

    def __init__(self, limit: int | None = DEFAULT_MAX_REQUESTS) -> None:
        if limit is not None and limit < 0:
            raise ValueError(f"max_number_of_requests_per_session must be >= 0, not {limit}")
        self.limit = limit
        self.count = 0
        self.by_kind: Counter[str] = Counter()
        self._paused = 0

    def before_request(self, kind: str) -> None:
        if self._paused:
            return
        # Incremented before the check, as RavenDB does: after the refused call the count is
        # limit + 1, and the refused call was not sent.
        self.count += 1
        self.by_kind[kind] += 1
        if self.limit is not None and self.count > self.limit:
            raise RequestBudgetError(self.message(kind))

    def message(self, kind: str) -> str:
        return (
            f"The maximum number of requests ({self.limit}) allowed for this session has been "
            f"reached: request {self.count} ({_KIND_NAMES.get(kind, kind)}) was not sent. "
            "Sessions are expected to be short lived and to make few calls: load many documents "
            "at once with session.load([id1, id2, ...]) or select(...).where(pk.in_(...)), "
            "load related objects with selectinload()/joinedload() instead of lazy loads in a "
            "loop (Select N+1), and save once per unit of work. You can raise the limit with "
            "DocumentStore.conventions.max_number_of_requests_per_session, "
            "DocumentSession(max_number_of_requests_per_session=N) (also through sessionmaker), "
            "or session.advanced.max_number_of_requests_per_session = N; None disables it."
        )

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Calls made inside the block are not counted (HiLo and its schema lookups)."""
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1

    def reset(self) -> None:
        self.count = 0
        self.by_kind.clear()

    def __repr__(self) -> str:
        return f"<RequestBudget {self.count}/{self.limit}>"
