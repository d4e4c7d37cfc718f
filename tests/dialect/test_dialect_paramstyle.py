"""The DB-API takes named parameters only; the dialect refuses any other paramstyle up front."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sqla_docstore import dbapi


def test_the_dbapi_and_the_dialect_agree_on_named_parameters() -> None:
    assert dbapi.paramstyle == "named"
    assert sa.create_engine("docstore://").dialect.paramstyle == "named"


@pytest.mark.parametrize("url", ["docstore://", "ravendb://127.0.0.1:1/db"])
@pytest.mark.parametrize("style", ["qmark", "format", "pyformat", "numeric"])
def test_another_paramstyle_is_refused_at_create_engine(url: str, style: str) -> None:
    with pytest.raises(sa.exc.ArgumentError, match="named parameters only"):
        sa.create_engine(url, paramstyle=style)
