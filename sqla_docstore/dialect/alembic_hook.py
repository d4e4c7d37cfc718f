"""Alembic's impl for the dialects, defined when Alembic is imported, not before.

Alembic finds a dialect's ``DefaultImpl`` subclass by name in a registry its metaclass fills
as the class is defined (``alembic.ddl.impl._impls``), when a migration context is made. The
subclasses (``alembic_impl``) need Alembic, which brings Mako and Pygments: some 21,000 more
objects in every process that uses the dialect, each traversed by every full collection of
the garbage collector (a large query's result pays it). So ``alembic_impl`` is imported right
after ``alembic.ddl.impl`` is, whichever comes first: at once if Alembic is loaded already,
else by a finder on ``sys.meta_path`` that wraps the loader of that one module, then finds
nothing more. Alembic itself is optional.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

#: the module whose execution defines Alembic's registry
TRIGGER = "alembic.ddl.impl"
#: the module that registers the dialects' impls in it
IMPL = "sqla_docstore.dialect.alembic_impl"


def _register() -> None:
    importlib.import_module(IMPL)


class _ThenRegister(importlib.abc.Loader):
    """The loader of ``alembic.ddl.impl``, then the impls' import."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        AlembicFinder.fired = True
        _register()

    def __getattr__(self, name: str) -> Any:  # get_code, get_source, ... as the real one
        return getattr(self._loader, name)


class AlembicFinder(importlib.abc.MetaPathFinder):
    """Finds ``alembic.ddl.impl`` as the other finders do, with ``_ThenRegister`` as its
    loader; other modules are left to them. Once it has fired it finds nothing: it stays on
    ``sys.meta_path``, since taking it off would shift the list under another thread's
    import looking through it (which could then skip a finder)."""

    fired = False

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != TRIGGER or AlembicFinder.fired:
            return None
        for finder in sys.meta_path:
            find = None if finder is self else getattr(finder, "find_spec", None)
            spec = None if find is None else find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _ThenRegister(spec.loader)
                return spec
        return None


def install() -> None:
    """Have the impls registered when Alembic's registry exists (now if it does)."""
    if TRIGGER in sys.modules:
        AlembicFinder.fired = True
        _register()
    elif not any(isinstance(f, AlembicFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, AlembicFinder())
