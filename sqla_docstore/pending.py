"""A transaction's pending batch: commands to send at commit, plus the document state they produce.

Reads inside the transaction overlay this state on the store; savepoints truncate it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import accumulate, repeat
from operator import attrgetter
from typing import Any, cast

from .commands import (
    Absent,
    Command,
    CompareExchange,
    CreateRun,
    Delete,
    JSONDict,
    LazyBodies,
    Patch,
    PatchRun,
    Put,
)
from .errors import ProgrammingError

_MISSING: Any = object()
_ID = attrgetter("id")
_BODY = attrgetter("body")
_NEW: Any = object()  # an undo entry's mark: its key is a list of ids that had no state
_STATEMENT = "\x00statement"  # the implicit savepoint of one write statement


class _Replaced(list[Any]):
    """An undo entry's mark and content: the states (or _MISSING) a run of writes replaced,
    one per id of the entry's key (a list of ids)."""


#: The state of a document the transaction deleted: a 1-tuple of its id. A new one per
#: delete (``read_as_committed`` tells states apart by identity); holding a string only, it
#: is no longer tracked by the cyclic collector after its first collection.
Gone = tuple[str]

#: A document state in the overlay: its body (a dict), or Gone once deleted. The body itself,
#: not a tuple holding it: a tuple holding a dict stays tracked by the cyclic collector, and
#: 10,000 of them alive until the commit cost a bulk insert one more full collection (a body
#: of plain values is a dict the collector stops tracking).
DocState = JSONDict | Gone


def body_of(state: DocState) -> JSONDict | None:
    """The body of a document state, None if deleted."""
    return None if type(state) is tuple else state  # type: ignore[return-value]


def is_gone(state: DocState | None) -> bool:
    """Whether a state (None: untouched) is a deleted document's."""
    return type(state) is tuple


class _LazyDocs(dict[str, DocState]):
    """A collection's pending states when its first writes are a run of inserts whose bodies
    are not made yet (``LazyBodies``): its ids, each body put in when any state is first
    read or changed (a run only written to the store makes none). Every method that reads
    or changes states makes them first; those that read ids only (``in``, ``len``,
    iteration, ``keys``) do not. ``__iter__`` is its own so that ``dict(docs)``,
    ``{**docs}`` and ``dict.update`` read the states through ``__getitem__``, not the
    table's placeholders."""

    __slots__ = ("_bodies",)

    def __init__(self, ids: dict[str, None], bodies: LazyBodies) -> None:
        """``ids``: the run's ids, each mapped to None (``dict.fromkeys``): copied, not kept
        (a plain dict copied into an empty one is cloned whole, no key hashed or inserted
        again)."""
        super().__init__(cast("dict[str, DocState]", ids))  # (placeholders)
        self._bodies: LazyBodies | None = bodies

    def _made(self) -> None:
        bodies = self._bodies
        if bodies is not None:
            self._bodies = None
            dict.update(self, zip(list(dict.keys(self)), bodies, strict=True))

    def __iter__(self) -> Iterator[str]:
        return dict.__iter__(self)

    def __getitem__(self, key: str) -> DocState:
        self._made()
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        self._made()
        return dict.get(self, key, default)

    def items(self) -> Any:
        self._made()
        return dict.items(self)

    def values(self) -> Any:
        self._made()
        return dict.values(self)

    def __setitem__(self, key: str, value: DocState) -> None:
        self._made()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        self._made()
        dict.__delitem__(self, key)

    def pop(self, key: str, *default: Any) -> Any:
        self._made()
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, DocState]:
        self._made()
        return dict.popitem(self)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._made()
        return dict.setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._made()
        dict.update(self, *args, **kwargs)

    def clear(self) -> None:
        self._bodies = None
        dict.clear(self)

    def copy(self) -> dict[str, DocState]:
        self._made()
        return dict(dict.items(self))

    def __eq__(self, other: object) -> bool:
        self._made()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None

    def __or__(self, other: Any) -> Any:
        self._made()
        return dict.__or__(self, other)

    def __ior__(self, other: Any) -> Any:
        self._made()
        return dict.__ior__(self, other)

    def __repr__(self) -> str:
        self._made()
        return dict.__repr__(self)

    def __reduce__(self) -> Any:
        self._made()
        return dict, (dict(dict.items(self)),)


class PendingBatch:
    """Commands in order, the overlay ``{collection: {id: body | (id,)}}``, savepoints.

    Document ids compare exactly, as SQL primary keys do (RavenDB ignores their case).
    """

    def __init__(self) -> None:
        self._commands: list[Command] = []
        #: PUTs and PATCHes kept as columns (``add_created``, ``add_patch_run``), in order,
        #: after ``_commands`` (``commands`` makes them first)
        self._runs: list[CreateRun | PatchRun] = []
        self.overlay: dict[str, dict[str, DocState]] = {}
        # Keys written since the overlay mirror was last synced, in write order.
        self.dirty: dict[str, dict[str, None]] = {}
        #: per collection whose pending writes someone keeps a record of (the unique values
        #: they hold: dbapi.unique_pending): that record, and the ids written since it was
        #: last brought up to date (a savepoint's rollback writes the ids it restores)
        self.watched: dict[str, tuple[Any, dict[str, None]]] = {}
        self._undo: list[tuple[str, Any, Any]] = []
        self._savepoints: list[tuple[str, int, int]] = []
        self._seen: dict[str, tuple[JSONDict | str, str | None]] = {}
        #: reads noted in bulk (note_read), not yet in ``seen``: (ids, JSON texts, cvs)
        self._unseen: list[tuple[Sequence[str], Sequence[str | None], Sequence[str | None]]] = []
        #: change vectors UPDATE and DELETE by key must find at commit (optimistic
        #: concurrency: set by a session from what it loaded)
        self.expected: dict[str, str] = {}
        #: every stored document a query reads is noted in ``seen`` with its change vector
        #: (``dbapi.Connection.note_reads``); False: a backend that reads the id and change
        #: vector apart from the body (the embedded store) notes only the reads of a
        #: transaction that has written, and of SELECT ... FOR UPDATE. Kept across
        #: transactions
        self.note_reads = False
        #: documents an enclosing test transaction holds as if committed (see end_of_unit):
        #: (collection, id) -> the state they had then
        self.as_committed: dict[tuple[str, str], DocState] = {}
        #: True: every command is a PUT creating its document (``expected`` ""), a bulk
        #: load's batch; False: maybe not (a command of another kind was added)
        self.creates_only = True
        #: per collection written: the fields its pending writes changed, while every one of
        #: them is a PATCH setting or removing plain values (each pending state is then the
        #: document as read with those fields changed); None once another write was made
        self._patched: dict[str, set[str] | None] = {}

    @property
    def seen(self) -> dict[str, tuple[JSONDict | str, str | None]]:
        """Documents read from the store in this transaction: id -> (body, change vector);
        the body may be kept as its JSON text (parsed when used)."""
        if self._unseen:
            self._take_reads()
        return self._seen

    @seen.setter
    def seen(self, value: dict[str, tuple[JSONDict | str, str | None]]) -> None:
        if self._unseen:
            self._take_reads()
        self._seen = value

    def note_read(self, ids: Sequence[str], texts: Sequence[str | None],
                  cvs: Sequence[str | None]) -> None:
        """Documents a query read, by id, JSON text and change vector (a pending document,
        read without one, is left out): they join ``seen`` when it is next looked at, so
        a read nobody looks back at costs no entry per row."""
        self._unseen.append((ids, texts, cvs))

    def _take_reads(self) -> None:
        seen = self._seen
        for ids, texts, cvs in self._unseen:
            if None not in texts and all(cvs):  # (every document read is a stored one)
                seen.update(zip(ids, zip(cast("Sequence[str]", texts), cvs, strict=True),
                                strict=True))
                continue
            for doc_id, text, cv in zip(ids, texts, cvs, strict=True):
                if text is not None and cv:
                    seen[doc_id] = (text, cv)
        self._unseen.clear()

    @property
    def commands(self) -> list[Command]:
        """The commands in order (those of runs kept as columns made now)."""
        if self._runs:
            self._make_runs(len(self._runs))
        return self._commands

    def _make_runs(self, count: int) -> None:
        """The commands of the first ``count`` runs kept as columns, made."""
        made = self._commands
        for run in self._runs[:count]:
            made.extend(run.puts() if isinstance(run, CreateRun) else run.patches())
        del self._runs[:count]

    def commands_and_runs(self, taken: tuple[type, ...] = (CreateRun,)
                          ) -> tuple[list[Command], list[CreateRun | PatchRun]]:
        """The commands made, and the runs kept as columns that follow them, of the kinds
        ``taken`` (for a backend that takes them: the runs before the last one of another
        kind are made into commands)."""
        runs = self._runs
        if not runs:
            return self._commands, runs
        last_made = max((n for n, run in enumerate(runs) if type(run) not in taken),
                        default=-1)
        if last_made >= 0:
            self._make_runs(last_made + 1)
        return self._commands, self._runs

    def only_creates(self) -> bool:
        """Whether every pending write is a PUT creating its document (``expected`` ""),
        told without making the runs kept as columns."""
        if self.creates_only:
            return True
        return all(type(run) is CreateRun for run in self._runs) and all(
            isinstance(c, Put) and c.expected == "" for c in self._commands)

    def __len__(self) -> int:
        runs = self._runs  # (no generator when no run is kept: every commit asks)
        return len(self._commands) + (sum(len(run.ids) for run in runs) if runs else 0)

    def __bool__(self) -> bool:
        return bool(self._commands or self._runs)

    def get(self, collection: str, doc_id: str) -> DocState | None:
        """The pending state of a document, or None if this transaction has not touched it."""
        docs = self.overlay.get(collection)
        return docs.get(doc_id) if docs else None

    def touches(self, collection: str) -> bool:
        return bool(self.overlay.get(collection))

    def add(self, command: Put | Patch | Delete, body: JSONDict | None) -> None:
        """Append a command; ``body`` is the document as it stands after it (None if deleted)."""
        self.commands.append(command)
        if not (isinstance(command, Put) and command.expected == ""):
            self.creates_only = False
        self._note_patched(command)
        self._set_state(command.collection, command.id, body)

    def _note_patched(self, command: Put | Patch | Delete) -> None:
        """Keep ``_patched`` of the command's collection (see ``patched_fields``)."""
        collection = command.collection
        fields = self._patched.get(collection, _MISSING)
        if fields is None:
            return
        if type(command) is not Patch or command.compute:
            self._patched[collection] = None
            return
        if fields is _MISSING:
            fields = self._patched[collection] = set()
        fields.update(command.set)
        fields.update(command.unset)

    def patched_fields(self, collection: str) -> frozenset[str] | None:
        """The fields the pending writes to ``collection`` changed when each of them is a
        PATCH of plain values (not computed at commit): every pending document of it is then
        the stored document as this transaction read it with only these fields changed (the
        body ``add`` is given: the document read, updated). None if another kind of write
        was made to it in this transaction (even one a savepoint took back)."""
        fields = self._patched.get(collection)
        return None if fields is None else frozenset(fields)

    def add_each(self, commands: Sequence[Put | Patch | Delete],
                 bodies: Sequence[JSONDict | None], *,
                 patched: Sequence[str] | None = None) -> None:
        """``add`` of each command with its body, in order. ``patched``: every command is a
        PATCH of the same collection setting plain values of these fields, no others."""
        self.commands.extend(commands)
        self.creates_only = False
        if patched is not None:
            if commands:
                self._add_patches(commands[0].collection, list(map(_ID, commands)), bodies,
                                  patched)
            return
        for command in commands:
            self._note_patched(command)
        overlay, dirty, undo = self.overlay, self.dirty, self._undo
        keep = bool(self._savepoints)  # only a savepoint can need the states replaced
        collection = None
        docs: dict[str, DocState] = {}
        changed: dict[str, None] = {}
        watched: dict[str, None] | None = None
        for command, body in zip(commands, bodies, strict=True):
            if command.collection != collection:  # (a run of one collection's writes)
                collection = command.collection
                docs = overlay.setdefault(collection, {})
                changed = dirty.setdefault(collection, {})
                watched = self._written_since(collection)
            key = command.id
            if keep:
                undo.append((collection, key, docs.get(key, _MISSING)))
            docs[key] = (key,) if body is None else body
            changed[key] = None
            if watched is not None:
                watched[key] = None

    def add_patch_run(self, run: PatchRun, bodies: Sequence[JSONDict],
                      patched: Sequence[str]) -> None:
        """``add_each`` of the PATCHes of ``run`` (setting plain values of the fields
        ``patched``) with the documents as they leave them, kept as columns: each PATCH is
        made only if ``commands`` is read (at the latest by the commit)."""
        if not run.ids:
            return
        self.creates_only = False
        self._runs.append(run)
        self._add_patches(run.collection, run.ids, bodies, patched)

    def _add_patches(self, collection: str, ids: list[str],
                     bodies: Sequence[JSONDict | None], patched: Sequence[str]) -> None:
        """The states of ``add_each`` of PATCHes of one collection (``patched``), with one
        undo entry for them all."""
        fields = self._patched.setdefault(collection, set())
        if fields is not None:
            fields.update(patched)
        docs = self.overlay.setdefault(collection, {})
        if self._savepoints:  # only a savepoint can need the states these writes replace
            self._undo.append((collection, ids, _Replaced(map(docs.get, ids, repeat(_MISSING)))))
        docs.update(zip(ids, bodies, strict=True))  # type: ignore[arg-type]  # (PATCHes: no None)
        self.dirty.setdefault(collection, {}).update(dict.fromkeys(ids))
        if (watched := self._written_since(collection)) is not None:
            watched.update(dict.fromkeys(ids))

    def add_puts(self, collection: str, puts: list[Put], *, new: bool = False,
                 ids: list[str] | None = None,
                 bodies: Sequence[JSONDict] | None = None) -> None:
        """``add`` of each PUT of one collection, in order: the body of each is the document
        after it. Their ids are distinct (one INSERT statement's rows); ``new``: none of them
        has a state in the transaction yet (each creates its document: ``expected`` "").
        ``ids``, ``bodies``: the PUTs' ids and bodies in order, if the caller has them (then
        ``puts`` may be empty: ``add_created`` keeps the PUTs as columns)."""
        if ids is None:
            ids = list(map(_ID, puts))
        docs = self.overlay.setdefault(collection, {})
        if self._savepoints:  # only a savepoint can need the states these writes replace
            fresh = ids if new else [doc_id for doc_id in ids if doc_id not in docs]
            if len(fresh) < len(puts):
                self._undo.extend([(collection, put.id, docs[put.id]) for put in puts
                                   if put.id in docs])
            if fresh:
                self._undo.append((collection, fresh, _NEW))  # one entry for the new documents
        if puts:
            self.commands.extend(puts)  # (after the runs kept, made first)
        if not new:
            self.creates_only = False
        self._patched[collection] = None
        first = not docs  # (the collection's first writes: its documents are these)
        written: dict[str, None] | None = None
        if first and type(bodies) is LazyBodies and not bodies.is_made and len(ids) == len(
                bodies):
            written = dict.fromkeys(ids)  # (the ids hashed once: cloned by _LazyDocs)
            docs = self.overlay[collection] = _LazyDocs(written, bodies)  # (no body made yet)
        else:
            docs.update(zip(ids, map(_BODY, puts) if bodies is None else bodies, strict=True))
        changed = self.dirty.get(collection)
        if changed:
            changed.update(written if written is not None else dict.fromkeys(ids))
        elif written is not None:
            self.dirty[collection] = written  # (the placeholders' dict: this keeps it)
        else:  # (from a dict: its size and hashes known, no growing)
            self.dirty[collection] = dict.fromkeys(docs if first else ids)
        if (watched := self._written_since(collection)) is not None:
            watched.update(written if written is not None else dict.fromkeys(ids))

    def add_created(self, run: CreateRun) -> None:
        """``add_puts`` of the PUTs of ``run`` (``new``: none of its ids has a state in the
        transaction yet), kept as columns: each PUT is made only if ``commands`` is read."""
        self.add_puts(run.collection, [], new=True, ids=run.ids, bodies=run.bodies)
        self._runs.append(run)

    def add_guard(self, command: Patch | Absent) -> None:
        """Queue a command that only checks at commit (a PATCH that changes nothing checks a
        document's version; an ``Absent`` that no other document refers to a key): the
        overlay stays as it was."""
        if isinstance(command, Patch) and (command.set or command.unset or command.compute):
            raise ProgrammingError("a guard changes nothing")
        self.commands.append(command)
        self.creates_only = False

    def add_compare_exchange(self, op: str, key: str, value: Any, index: int) -> None:
        """Queue a compare-exchange PUT or DELETE, applied and checked with the batch."""
        if op not in ("PUT", "DELETE"):
            raise ProgrammingError(f"compare-exchange operation must be PUT or DELETE: {op!r}")
        self.commands.append(CompareExchange(key, value, index, op == "DELETE"))
        self.creates_only = False

    def _set_state(self, collection: str, doc_id: str, body: JSONDict | None) -> None:
        docs = self.overlay.setdefault(collection, {})
        key = doc_id
        if self._savepoints:  # only a savepoint can need the state this write replaces
            self._undo.append((collection, key, docs.get(key, _MISSING)))
        docs[key] = (key,) if body is None else body
        self.dirty.setdefault(collection, {})[key] = None
        if (watched := self._written_since(collection)) is not None:
            watched[key] = None

    def _written_since(self, collection: str) -> dict[str, None] | None:
        """The ids written to a watched collection since its record was brought up to date
        (None: no record of it is kept)."""
        entry = self.watched.get(collection) if self.watched else None
        return None if entry is None else entry[1]

    def read_as_committed(self, collection: str, doc_id: str) -> bool:
        """Whether a read of this pending document stands for a read of the store (it was
        written by an earlier unit of work of an enclosing test transaction)."""
        if not self.as_committed:
            return False
        state = self.as_committed.get((collection, doc_id))
        # The very state of that commit: a later write in this unit makes it pending again.
        return state is not None and state is self.get(collection, doc_id)

    # -- units of work inside an enclosing (test) transaction ---------------------------
    def outermost_savepoint(self, name: str) -> bool:
        return bool(self._savepoints) and self._savepoints[0][0] == name

    def writes_since(self, name: str) -> bool:
        return len(self) > self._savepoints[self._find(name)][1]

    def end_of_unit(self, committed: bool) -> None:
        """The outermost savepoint ended: for an application under a transactional test
        fixture, that is its commit (or rollback). What it wrote now reads as stored data
        (loads count as requests, as they would after a real commit), and what it read is
        forgotten, as a real transaction end forgets it."""
        self._unseen.clear()
        self._seen.clear()
        if committed:
            for collection, docs in self.overlay.items():
                for doc_id, state in docs.items():
                    self.as_committed[(collection, doc_id)] = state

    # -- savepoints ---------------------------------------------------------------------
    @property
    def in_savepoint(self) -> bool:
        """A savepoint is open (in autocommit mode it holds the transaction open)."""
        return bool(self._savepoints)

    def savepoint(self, name: str) -> None:
        self._savepoints.append((name, len(self), len(self._undo)))

    def _find(self, name: str) -> int:
        for pos in range(len(self._savepoints) - 1, -1, -1):
            if self._savepoints[pos][0] == name:
                return pos
        raise ProgrammingError(f"no such savepoint: {name}")

    def rollback_to(self, name: str) -> None:
        """Discard everything written since the savepoint; the savepoint stays open."""
        pos = self._find(name)
        _, n_commands, n_undo = self._savepoints[pos]
        del self._savepoints[pos + 1 :]
        del self.commands[n_commands:]
        while len(self._undo) > n_undo:
            collection, key, previous = self._undo.pop()
            docs = self.overlay[collection]
            watched = self._written_since(collection)
            if watched is not None:
                watched.update(dict.fromkeys(key) if isinstance(key, list) else {key: None})
            if type(previous) is _Replaced:  # the states a run of PATCHes replaced
                for old_key, state in zip(reversed(key), reversed(previous), strict=True):
                    if state is _MISSING:
                        docs.pop(old_key, None)
                    else:
                        docs[old_key] = state
                self.dirty.setdefault(collection, {}).update(dict.fromkeys(key))
                continue
            if previous is _NEW:  # documents a run of PUTs created (add_puts)
                for new_key in key:
                    del docs[new_key]
                self.dirty.setdefault(collection, {}).update(dict.fromkeys(key))
                continue
            if previous is _MISSING:
                del docs[key]
            else:
                docs[key] = previous
            self.dirty.setdefault(collection, {})[key] = None

    def release(self, name: str) -> None:
        savepoints = self._savepoints
        if savepoints and savepoints[-1][0] == name:  # (the common case: the last one)
            savepoints.pop()
        else:
            del savepoints[self._find(name) :]
        if not savepoints:
            self._undo.clear()  # only a savepoint can need the states writes replaced

    def atomic_statement(self) -> _AtomicStatement:
        """A write statement applies whole or not at all: a failure (a constraint, a value
        the store can't hold) takes back what it already added to the batch."""
        return _AtomicStatement(self)

    def discard_collection(self, collection: str, id_prefix: str) -> None:
        """Forget every pending write to a collection and the documents read from it (the
        collection was dropped); the other collections' writes and the savepoints stay."""
        self.overlay.pop(collection, None)
        self.dirty.pop(collection, None)
        self.watched.pop(collection, None)
        self._patched.pop(collection, None)
        keep = [not (isinstance(c, (Put, Patch, Delete, Absent)) and c.collection == collection)
                for c in self.commands]
        keep_undo = [entry[0] != collection for entry in self._undo]
        # a savepoint is a position in the commands and undo log: count what stays before it
        before = list(accumulate(keep, initial=0))
        undo_before = list(accumulate(keep_undo, initial=0))
        self._savepoints = [(name, before[n], undo_before[u])
                            for name, n, u in self._savepoints]
        self.commands[:] = [c for c, k in zip(self.commands, keep, strict=True) if k]
        self._undo[:] = [e for e, k in zip(self._undo, keep_undo, strict=True) if k]
        head = id_prefix.lower() + "/"
        for ids in (self.seen, self.expected):
            for doc_id in [i for i in ids if i[:len(head)].lower() == head]:
                del ids[doc_id]

    def clear(self) -> None:
        """Forget everything (after commit or rollback)."""
        self._commands.clear()
        self._runs.clear()
        self.dirty.clear()
        self.watched.clear()
        self._unseen.clear()
        self._seen.clear()
        self.expected.clear()
        self.overlay.clear()
        self._undo.clear()
        self._savepoints.clear()
        self.as_committed.clear()
        self._patched.clear()
        self.creates_only = True


def split_pending(
    pending: PendingBatch | None, collection: str, ids: list[str]
) -> tuple[dict[str, Any], list[str], bool]:
    """Documents the transaction wrote (``{id: (id, body, None)}``, deleted ones left out),
    the ids it did not touch, which the store must be asked for, and whether a load is to be
    counted anyway (a document an earlier unit of work of a test transaction wrote, which a
    real application would load from the store)."""
    found: dict[str, Any] = {}
    missing = []
    as_stored = False
    for doc_id in ids:
        state = pending.get(collection, doc_id) if pending else None
        if state is None:
            missing.append(doc_id)
            continue
        if not is_gone(state):
            found[doc_id] = (doc_id, state, None)
        if pending is not None and pending.read_as_committed(collection, doc_id):
            as_stored = True
    return found, missing, as_stored


__all__ = ["DocState", "Gone", "PendingBatch", "body_of", "is_gone", "split_pending"]


class _AtomicStatement:
    """``PendingBatch.atomic_statement``: the implicit savepoint of one write statement. (A
    class, not a generator: it is entered on every write statement.)"""

    __slots__ = ("_pending",)

    def __init__(self, pending: PendingBatch) -> None:
        self._pending = pending

    def __enter__(self) -> None:
        self._pending.savepoint(_STATEMENT)

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is not None:
            self._pending.rollback_to(_STATEMENT)
        self._pending.release(_STATEMENT)
