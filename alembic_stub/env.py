"""Alembic environment for sqla_docstore (and any other SQLAlchemy URL).

URL: ``-x url=...``, else ``$SQLA_DOCSTORE_URL``, else ``sqlalchemy.url`` in alembic.ini.
Models: ``-x metadata=pkg.module:Base``, else ``$SQLA_DOCSTORE_METADATA``, else
``target_metadata`` in alembic.ini: ``module:attribute`` naming a ``MetaData`` or a declarative
base (its ``.metadata`` is used). Without one, autogenerate has nothing to compare with.
"""

import importlib
import os

from alembic import context
from sqlalchemy import MetaData, engine_from_config, pool

config = context.config
x_args = context.get_x_argument(as_dictionary=True)
url = x_args.get("url") or os.environ.get(
    "SQLA_DOCSTORE_URL", config.get_main_option("sqlalchemy.url")
)


def load_metadata(ref: str | None) -> MetaData | None:
    """``pkg.module:Base`` (or ``pkg.module:metadata``) -> the MetaData to autogenerate from."""
    if not ref:
        return None
    module_name, _, attr = ref.partition(":")
    obj = importlib.import_module(module_name)
    for part in (attr or "metadata").split("."):
        obj = getattr(obj, part)
    metadata = obj if isinstance(obj, MetaData) else getattr(obj, "metadata", None)
    if not isinstance(metadata, MetaData):
        raise TypeError(f"target metadata {ref!r} is neither a MetaData nor a declarative base")
    return metadata


target_metadata = load_metadata(
    x_args.get("metadata") or os.environ.get("SQLA_DOCSTORE_METADATA")
    or config.get_main_option("target_metadata")
)


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = url
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
