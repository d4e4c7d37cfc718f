"""The interface every backend connection offers the DB-API (documented once, here)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from ..commands import Batch, Recompute
from ..pending import PendingBatch
from ..schema import CollectionSpec
from ..statements import ast

#: A document as a backend returns it: (id as stored, body or None if deleted, change vector).
Document = tuple[str, "dict[str, Any] | None", "str | None"]


class BackendConnection(Protocol):
    """One connection to a store. Every call that reaches the store adds 1 to
    ``counts[kind]`` (kinds: "load", "query", "batch", "hilo", "schema"), except the
    once-per-transaction catalog check (see ``end_transaction``)."""

    counts: Counter[str]
    #: called with the kind before every counted request; raising stops the request (budget)
    before_request: Callable[[str], None] | None

    def spec(self, collection: str) -> CollectionSpec:
        """The collection's schema: declared, else mapped (``assume``), else inferred from
        its documents (``inference``); OperationalError if there is no such collection."""

    def collection_names(self) -> list[str]:
        """Every collection of the database (declared, or made by its first document)."""

    def exists(self, collection: str) -> bool:
        """Whether the collection exists: declared (CREATE COLLECTION), or holding documents
        (RavenDB makes a collection with its first document). A mapping alone makes none."""

    def assume(self, spec: CollectionSpec) -> None:
        """An application maps this schema: a missing or undeclared collection gets it
        (see Connection.assume_collections); a declared one keeps its own."""

    def stored_documents(self, collection: str) -> list[tuple[str, dict[str, Any]]]:
        """Every stored (committed) document of a collection as (id, body)."""

    def query(
        self, stmt: ast.SelectLike, params: dict[str, Any], pending: PendingBatch | None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query over the store with ``pending`` overlaid: (column labels, rows)."""

    def rows_for_write(
        self,
        table: str,
        alias: str | None,
        where: ast.Expr | None,
        exprs: tuple[ast.Expr, ...],
        params: dict[str, Any],
        pending: PendingBatch | None,
    ) -> list[tuple[Any, ...]]:
        """(id, body, change vector, *values of exprs) of every document matching ``where``."""

    def evaluate(self, exprs: tuple[ast.Expr, ...], params: dict[str, Any],
                 pending: PendingBatch | None = None) -> tuple[Any, ...]:
        """Values of expressions outside any row (their subqueries read the store with
        ``pending`` overlaid)."""

    def can_recompute(self, spec: CollectionSpec, compute: tuple[Recompute, ...]) -> bool:
        """Whether the store can evaluate these field expressions against each document when
        it applies a batch (a PATCH with ``compute``), with the same answer as SQL."""

    def get_documents(
        self, collection: str, ids: list[str], pending: PendingBatch | None
    ) -> dict[str, Document]:
        """Documents by id, pending state first; absent ids are left out."""

    def get_document(self, spec: CollectionSpec, doc_id: str,
                     pending: PendingBatch | None, key: int | None = None) -> Document | None:
        """``get_documents`` of one id (a load by key), of a collection whose schema
        ``spec`` this transaction read (``spec()`` gave it). ``key``: the integer ``doc_id``
        ends in, when the caller made the id of it (``f"{spec.prefix}/{key}"``)."""

    def submit(self, batch: Batch, *, results: bool = True) -> list[dict[str, Any]]:
        """Apply the batch atomically; one result per command (RavenDB's reply shapes), or
        none if ``results`` is false. Raises ConcurrencyError or IntegrityError and applies
        nothing when an expectation fails."""

    def prepare(self, batch: Batch) -> None:
        """Two-phase commit, phase one: check everything and hold the batch unapplied."""

    def end_prepared(self, commit: bool) -> None:
        """Two-phase commit, phase two: apply (``commit``) or drop the prepared batch."""

    def get_compare_exchange_values(self, keys: list[str]) -> dict[str, tuple[Any, int]]:
        """Compare-exchange values by key: ``{key: (value, index)}``; absent keys left out."""

    def next_ids(self, tag: str, count: int, *, claimed: bool = False) -> list[int]:
        """Fresh HiLo integers for new documents with the id prefix ``tag``, in ascending
        order (a bulk insert takes the first and the last as their bounds); ``claimed``:
        the caller writes them all at once, as ``claim_fresh_ids`` would say."""

    def observe_id(self, tag: str, used: int) -> None:
        """An explicit integer id was written under ``tag``: HiLo must not hand it out."""

    def claim_fresh_ids(self, tag: str, values: list[int]) -> list[bool]:
        """Per value: whether HiLo handed it out for ``tag`` in this process and no INSERT
        used it yet (then no stored document can hold it, unless another client wrote that
        id explicitly); it counts as used from now on."""

    def execute_schema(self, stmt: ast.Statement) -> None:
        """Create, drop or alter a collection or index (not transactional, as in RavenDB)."""

    def reset_overlay(self) -> None:
        """Forget mirrored pending state after commit or rollback."""

    def end_transaction(self) -> None:
        """The transaction ended (commit or rollback): the next one checks, once, whether
        another client changed the catalog (schemas), and reloads what changed."""

    def schema_token(self) -> object | None:
        """A value that stays equal while every schema this connection reads stays the one it
        read in this transaction, so an analysis of a statement kept with the token is still
        valid (the DB-API's warm statements); None when the schemas must be read again
        (a new transaction: another client may have changed them), or always None where the
        backend can't tell cheaply."""

    def close(self) -> None:
        """Release the connection."""
