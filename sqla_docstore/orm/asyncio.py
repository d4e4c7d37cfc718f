"""RavenDB's session API under asyncio: ``async with store.open_async_session() as s``.

An :class:`AsyncDocumentSession` is a ``sqlalchemy.ext.asyncio.AsyncSession`` whose sync side is
a :class:`DocumentSession`: every SQLAlchemy async feature works on it, and RavenDB's calls are
awaitable (``await s.load(...)``, ``await s.store(...)``, ``await s.save_changes()``). The
official RavenDB Python client has no async session; this one runs on the same machinery as the
sync session, its I/O in worker threads (see ``sqla_docstore.dialect.asyncio``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util.concurrency import greenlet_spawn

from .session import Advanced, DocumentSession


class AsyncDocumentSession(AsyncSession):
    """AsyncSession + RavenDB's session API (the sync session is a DocumentSession)."""

    sync_session_class = DocumentSession
    sync_session: DocumentSession

    async def load(self, id_or_ids: Any, object_type: Any = None, *,
                   options: Any = ()) -> Any:
        """:meth:`DocumentSession.load`, awaited."""
        return await greenlet_spawn(self.sync_session.load, id_or_ids, object_type,
                                    options=options)

    async def store(self, entity: object, key: Any = None,
                    change_vector: str | None = None) -> None:
        """:meth:`DocumentSession.store`, awaited (a HiLo id may need a request)."""
        await greenlet_spawn(self.sync_session.store, entity, key, change_vector)

    async def delete(self, entity_or_id: Any, object_type: Any = None, *,
                     expected_change_vector: str | None = None) -> None:
        """:meth:`DocumentSession.delete`: an object, or a document by id."""
        await greenlet_spawn(self.sync_session.delete, entity_or_id, object_type,
                             expected_change_vector=expected_change_vector)

    async def save_changes(self) -> None:
        """:meth:`DocumentSession.save_changes`: one batch per database."""
        await greenlet_spawn(self.sync_session.save_changes)

    @property
    def advanced(self) -> Advanced:
        """``session.advanced`` of the sync session: request counts, what_changed, metadata.
        Its calls that reach the store (compare-exchange reads) go through ``run_sync``."""
        return self.sync_session.advanced
