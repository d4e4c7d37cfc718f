"""Alembic environment for sqla_docstore: URL from -x url=..., $SQLA_DOCSTORE_URL or the ini."""

import os

from alembic import context
from sqlalchemy import engine_from_config, pool

import sqla_docstore.dialect  # noqa: F401 - registers the Alembic impl for "docstore"

config = context.config
url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
    "SQLA_DOCSTORE_URL", config.get_main_option("sqlalchemy.url")
)
target_metadata = None


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
