"""Document batch commands (PUT / PATCH / DELETE): the pure, backend-neutral unit of a commit.

``expected`` is RavenDB's change-vector check: ``None`` means no check, ``""`` means the document
must not exist, any other string must equal the stored change vector.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, overload

from .errors import InternalError
from .statements import ast

JSONDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Recompute:
    """A field set from an expression over the document as it is stored when the batch is
    applied (``SET n = n + 1``), so a write committed meanwhile is built on, never lost. The
    document's own fields appear in ``expr`` as parameters ``field:<name>`` (see rowexpr)."""

    field: str
    expr: ast.Expr
    reads: tuple[str, ...]  # the fields ``expr`` reads


@dataclass(slots=True)
class Put:
    collection: str
    id: str
    body: JSONDict
    expected: str | None = None
    #: the body's JSON text as ``values.dumps`` writes it, when the statement made it (a bulk
    #: insert's, a column at a time); None: written when needed. Bodies are not changed after
    #: their command is made, so the text stays the body's.
    text: str | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> JSONDict:
        doc = dict(self.body)
        doc["@metadata"] = {"@collection": self.collection}
        return {"Id": self.id, "ChangeVector": self.expected, "Document": doc, "Type": "PUT"}


@dataclass(slots=True)
class Patch:
    """Set fields of an existing document; fields not named are left as stored.

    ``compute`` fields are evaluated by the store against the stored document (all of them
    against the document as it was before this command, as SQL's SET reads the old row), with
    ``args`` as the statement's parameters; ``set`` then ``compute`` are applied."""

    collection: str
    id: str
    set: JSONDict
    expected: str | None = None
    unset: tuple[str, ...] = ()
    seen: str | None = None  # the change vector the document had when the update was resolved
    compute: tuple[Recompute, ...] = ()
    args: JSONDict | None = None

    def to_json(self) -> JSONDict:
        if self.compute:
            raise ValueError("a PATCH with computed fields needs the backend's script form")
        lines = [f"this[{_js(k)}] = args.v{i};" for i, k in enumerate(self.set)]
        lines += [f"delete this[{_js(k)}];" for k in self.unset]
        values = {f"v{i}": v for i, v in enumerate(self.set.values())}
        return {
            "Id": self.id,
            "ChangeVector": self.expected,
            "Patch": {"Script": "\n".join(lines), "Values": values},
            "Type": "PATCH",
        }


@dataclass(slots=True)
class Delete:
    collection: str
    id: str
    expected: str | None = None
    must_exist: bool = True
    seen: str | None = None  # the change vector the document had when the delete was resolved

    def to_json(self) -> JSONDict:
        return {"Id": self.id, "ChangeVector": self.expected, "Type": "DELETE"}


@dataclass(slots=True)
class CompareExchange:
    """PUT (``delete`` false) or DELETE of a compare-exchange value, checked in the batch:
    ``index`` 0 means the key must not exist, any other index must be the stored one."""

    key: str
    value: Any
    index: int
    delete: bool = False

    def to_json(self) -> JSONDict:
        if self.delete:
            return {"Id": self.key, "Index": self.index, "Type": "CompareExchangeDELETE"}
        return {"Id": self.key, "Document": {"Object": self.value}, "Index": self.index,
                "Type": "CompareExchangePUT"}


@dataclass(frozen=True, slots=True)
class Absent:
    """A check at commit that writes nothing: no document of ``collection`` that the batch
    does not write holds ``values`` in ``fields``. A foreign key's referring rows, for a key
    this transaction removed (deleted or changed): a row another transaction made refer to
    it meanwhile fails the commit instead of being left dangling."""

    collection: str
    fields: tuple[str, ...]
    values: tuple[Any, ...]
    referred: str  # the table whose key it is (for the error)

    def to_json(self) -> JSONDict:
        raise ValueError("an Absent check is made by the backend, never sent as a command")

    def refusal(self, doc_id: str) -> str:
        """The error's text when document ``doc_id`` holds the values."""
        shown = self.values[0] if len(self.values) == 1 else self.values
        return (f"FOREIGN KEY constraint failed: {self.collection}({', '.join(self.fields)}) "
                f"of document {doc_id!r}, written by another transaction, refers to "
                f"{shown!r} in {self.referred}, which this transaction deleted or changed; "
                "nothing was committed")


Command = Put | Patch | Delete | CompareExchange | Absent


class LazyBodies(Sequence[JSONDict]):
    """The bodies of a statement's rows, made from its columns when one is first read (all
    of them then, once): a run of inserts the commit writes from its columns and JSON texts
    makes no dict per row (making and freeing them was most of a bulk insert's Python).
    ``fields``: the bodies' fields, in order. Read it as a sequence: the dicts are the
    bodies themselves (a change to one is kept), the sequence can't be changed."""

    __slots__ = ("_count", "_make", "_made", "fields")

    def __init__(self, count: int, make: Callable[[], list[JSONDict]],
                 fields: tuple[str, ...]) -> None:
        self._count, self._make, self.fields = count, make, fields
        self._made: list[JSONDict] | None = None

    @property
    def is_made(self) -> bool:
        return self._made is not None

    def made(self) -> list[JSONDict]:
        """The bodies (made now if none was read yet)."""
        made = self._made
        if made is None:
            made = self._made = self._make()
            if len(made) != self._count:
                raise InternalError(f"{len(made)} bodies made, {self._count} expected")
            del self._make  # (the columns it holds go with it)
        return made

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> JSONDict: ...

    @overload
    def __getitem__(self, index: slice) -> list[JSONDict]: ...

    def __getitem__(self, index: int | slice) -> JSONDict | list[JSONDict]:
        return self.made()[index]

    def __iter__(self) -> Iterator[JSONDict]:
        return iter(self.made())


class CreateRun(NamedTuple):
    """PUTs creating documents of one collection (``expected`` ""), kept as columns: the
    documents' ids, bodies and the bodies' JSON texts (None: written when needed). A bulk
    insert's rows wait so in a pending batch, no object made per row until one is asked
    for (``puts``)."""

    collection: str
    ids: list[str]
    bodies: Sequence[JSONDict]  # (a list, or a LazyBodies: made when read)
    texts: list[str] | None
    #: the integer in each id, when every id is ``id_prefix`` and an int's text (a table
    #: keyed by integers takes them as they are: no id read again)
    keys: list[int] | None = None
    id_prefix: str | None = None
    #: the least and the greatest of ``keys``, if known (None: found when needed)
    key_bounds: tuple[int, int] | None = None
    #: the body field each body holds its entry of ``keys`` in, if the statement made the
    #: keys so (None: not known)
    key_field: str | None = None

    def puts(self) -> list[Put]:
        """The PUTs, in order."""
        name, new = itertools.repeat(self.collection), itertools.repeat("")
        if self.texts is None:
            return list(map(Put, name, self.ids, self.bodies, new))
        return list(map(Put, name, self.ids, self.bodies, new, self.texts))


class PatchRun(NamedTuple):
    """PATCHes setting plain values of distinct documents of one collection, kept as columns:
    the documents' ids, the fields every PATCH sets (in order), the values each sets (a
    tuple, one per field), the change vector each expects and the one it was resolved
    against (``Patch.expected``, ``Patch.seen``). An UPDATE's rows wait so in a pending
    batch, no object the collector tracks made per row until one is asked for
    (``patches``), and a backend that takes the run (``Batch.created``) writes it so."""

    collection: str
    ids: list[str]
    fields: tuple[str, ...]
    values: list[tuple[Any, ...]]
    expected: list[str | None]
    seen: list[str | None]

    def patches(self) -> list[Patch]:
        """The PATCHes, in order."""
        fields = self.fields
        sets = [dict(zip(fields, row, strict=True)) for row in self.values]
        return list(map(Patch, itertools.repeat(self.collection), self.ids, sets,
                        self.expected, itertools.repeat(()), self.seen))


@dataclass
class Batch:
    """The commands of one commit, applied atomically or not at all."""

    commands: list[Command] = field(default_factory=list)
    cluster_wide: bool = False
    atomic_guards: bool = True  # only meaningful for cluster-wide batches
    #: the transaction's final document states ``{collection: {id: body | (id,) once deleted}}``
    overlay: dict[str, dict[str, Any]] | None = None
    #: True: every command is a PUT creating its document (``expected`` ""), as the pending
    #: batch knew it (``PendingBatch.creates_only``); False: maybe not
    creates_only: bool = False
    #: runs of PUTs (and of PATCHes) kept as columns, applied in order after ``commands``
    #: (to a backend that takes them: ``BackendConnection.takes_create_runs``,
    #: ``takes_patch_runs``)
    created: list[CreateRun | PatchRun] = field(default_factory=list)

    def to_json(self) -> JSONDict:
        out: JSONDict = {"Commands": [c.to_json() for c in self.commands] + [
            command.to_json() for run in self.created for command in run_commands(run)]}
        if self.cluster_wide:
            out["TransactionMode"] = "ClusterWide"
        return out


def run_commands(run: CreateRun | PatchRun) -> list[Put] | list[Patch]:
    """The commands of a run kept as columns, in order."""
    return run.puts() if isinstance(run, CreateRun) else run.patches()


def _js(key: str) -> str:
    return json.dumps(key)
