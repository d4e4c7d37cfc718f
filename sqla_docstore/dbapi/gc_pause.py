"""The cyclic garbage collector paused around bulk work of the DB-API.

An ``executemany`` of thousands of rows, the commit of a batch of thousands of documents, or
a query's result (``READ``) allocates containers that all stay alive (documents, commands,
the overlay, result rows). Each allocation burst makes CPython's collector traverse them,
and every live object of the process, again and again for nothing: on SQLAlchemy's
``bulk_inserts`` suite that is 20 to 35 % of the time. The collector is paused while such a
call runs and resumed when it ends (as the standard library's ``timeit`` and msgpack's
unpacker do); garbage made meanwhile is collected on the next allocation burst after it. A
process that disabled the collector itself is left as it is.
"""

from __future__ import annotations

import gc

#: Fewer rows or commands than this are not worth the two calls.
BULK = 64
#: The size given for a query's read (its rows are not known before): the rows of a result,
#: their documents parsed, are acyclic new objects the collector would traverse (a result
#: of 10,000 rows made it run 20 to 40 times, its full collections costing 15-60 ms with
#: SQLAlchemy loaded); a read of one row pays the two calls (0.1 us)
READ = BULK


class paused:  # noqa: N801 - used as a function
    """Pause the collector while the block runs if ``size`` (rows, commands) is bulk. (A
    class, not a generator: it is entered on every query.)"""

    __slots__ = ("_pause",)

    def __init__(self, size: int) -> None:
        self._pause = size >= BULK

    def __enter__(self) -> None:
        if self._pause:
            self._pause = gc.isenabled()  # one the application disabled stays so
            if self._pause:
                gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._pause:
            gc.enable()
