"""Parameter sets as given to ``execute``/``executemany``, checked and made the mapping of
names to values the executor reads.

Both of SQLite's styles are taken, one per statement (as stdlib ``sqlite3`` takes them): a
statement with ``?`` (or ``?NNN``) takes a sequence of exactly as many values as it has
positions, the value at index i being parameter ``?i+1`` (internally named so, see
``statements.lexer``); a statement with ``:name`` (or RQL's ``$name``) takes a mapping, keys it
does not use being ignored. A mapping for ``?``, a sequence of values for ``:name``, or the
wrong number of values is a ProgrammingError saying so; a statement with no parameters takes
None or any empty container.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import starmap
from typing import Any, overload

from ..errors import ProgrammingError
from ..statements.prepared import Prepared, StatementKind


def bind(prep: Prepared, parameters: Any) -> dict[str, Any]:
    """The parameters of one execution of ``prep`` by name (a new dict: the caller's mapping
    is never kept)."""
    kind = type(parameters)
    if kind is tuple or kind is list:
        names = prep.positional
        if len(parameters) == len(names):
            return dict(zip(names, parameters, strict=False)) if names else {}  # same length
        if prep.named:
            if not parameters:
                return {}  # as no parameters at all: each one used says it has no value
            raise _sequence_for_named(kind)
        raise _wrong_count(len(names), len(parameters))
    if kind is dict or isinstance(parameters, Mapping):
        if prep.positional:
            raise _mapping_for_positional(prep, kind)
        return dict(parameters) if kind is dict else dict(parameters.items())
    if parameters is None:
        return bind(prep, ())
    if isinstance(parameters, Sequence) and not isinstance(parameters, (str, bytes, bytearray)):
        return bind(prep, tuple(parameters))
    raise ProgrammingError(
        "parameters must be a sequence of values (for ? parameters) or a mapping of names to "
        f"values (for :name parameters), not {kind.__name__}")


def bind_many(prep: Prepared, given: list[Any]) -> Sequence[dict[str, Any]]:
    """The parameter sets of an ``executemany``: tuples of values for ``?`` mapped to their
    names by one function made per statement (a dict display, the cheapest way to make the
    10,000 dicts of a bulk insert); dicts for ``:name`` read as given (not copied: the
    executor keeps none). An INSERT's tuples stay tuples (``Positional``): its rows are read
    by position, a column at a time, no dict made per row."""
    if prep.positional:
        if set(map(type, given)) == {tuple}:
            if prep.kind is StatementKind.INSERT and given:
                try:  # (the rows' lengths told by the columns, made anyway)
                    columns = list(zip(*given, strict=True))
                except ValueError:
                    columns = []  # tuples of two lengths: said by bind() below
                if len(columns) == len(prep.positional):
                    return Positional(prep.positional, given, _names_mapper(prep), columns)
            try:
                return list(starmap(_names_mapper(prep), given))
            except TypeError:
                pass  # a tuple of another length: said by bind() below
        return [bind(prep, p) for p in given]
    return [p if type(p) is dict else bind(prep, p) for p in given]


class Positional(Sequence[dict[str, Any]]):
    """The ``?`` parameter sets of an ``executemany``, kept as the tuples given (each of
    exactly ``len(names)`` values, the value at index i being parameter ``names[i]``) and as
    their columns (``columns[i]``: every row's value of ``names[i]``, in order); as a
    sequence, each set is the dict ``bind`` makes of it (all made on first use, then kept)."""

    __slots__ = ("names", "rows", "_mapper", "_dicts", "_columns")

    def __init__(self, names: tuple[str, ...], rows: list[tuple[Any, ...]],
                 mapper: Callable[..., dict[str, Any]],
                 columns: list[tuple[Any, ...]] | None = None) -> None:
        self.names = names
        self.rows = rows
        self._mapper = mapper
        self._dicts: list[dict[str, Any]] | None = None
        self._columns = columns

    @property
    def columns(self) -> list[tuple[Any, ...]]:
        """The values of each parameter, in row order (made on first use if not given)."""
        if self._columns is None:
            self._columns = list(zip(*self.rows, strict=True))
        return self._columns

    def _as_dicts(self) -> list[dict[str, Any]]:
        if self._dicts is None:
            self._dicts = list(starmap(self._mapper, self.rows))
        return self._dicts

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self._as_dicts()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._as_dicts())


def _names_mapper(prep: Prepared) -> Callable[..., dict[str, Any]]:
    mapper: Callable[..., dict[str, Any]] = prep.derived(_VALUES_TO_NAMES, lambda: _mapper(prep))
    return mapper


_VALUES_TO_NAMES = "dbapi.params: values to names"


def _mapper(prep: Prepared) -> Callable[..., dict[str, Any]]:
    """``lambda _0, _1: {'?1': _0, '?2': _1}`` for a statement with two ``?`` (the names are
    the lexer's ``?N``, never text of the statement, so the code made holds nothing else)."""
    names = prep.positional
    assert all(name[0] == "?" and name[1:].isdigit() for name in names)
    args = ", ".join(f"_{i}" for i in range(len(names)))
    items = ", ".join(f"{name!r}: _{i}" for i, name in enumerate(names))
    mapper: Callable[..., dict[str, Any]] = eval(f"lambda {args}: {{{items}}}")  # noqa: S307
    return mapper


def _wrong_count(wanted: int, given: int) -> ProgrammingError:
    takes = (f"takes {wanted} positional parameter{'' if wanted == 1 else 's'} (?)" if wanted
             else "has no parameters")
    return ProgrammingError(f"incorrect number of parameters: the statement {takes}, and "
                            f"{given} {'was' if given == 1 else 'were'} supplied")


def _sequence_for_named(kind: type) -> ProgrammingError:
    return ProgrammingError(
        "the statement has named parameters (:name, or $name in RQL): give a mapping of names "
        f"to values, not a {kind.__name__} of values")


def _mapping_for_positional(prep: Prepared, kind: type) -> ProgrammingError:
    n = len(prep.positional)
    return ProgrammingError(
        f"the statement has positional parameters (?): give a sequence of {n} "
        f"value{'' if n == 1 else 's'}, not a {kind.__name__} (a mapping has names only)")
