"""Requirements for Alembic's dialect suite: the dialect's own SQLAlchemy requirements (every
closed one explained there) plus Alembic's, each closed one with its reason."""

from alembic.testing.requirements import SuiteRequirements as AlembicRequirements
from sqlalchemy.testing import exclusions

from sqla_docstore.dialect.requirements import Requirements as DialectRequirements


class Requirements(DialectRequirements, AlembicRequirements):
    """Open: what the collection spec records and reflects. Closed by Alembic's defaults, and
    kept closed here: ``comments`` (no comments), ``autocommit_isolation`` (READ COMMITTED
    only), ``autoincrement_on_composite_pk`` and identity columns (keys come from HiLo)."""

    @property
    def reflects_fk_options(self) -> exclusions.compound:
        return exclusions.open()

    @property
    def fk_ondelete_is_reflected(self) -> exclusions.compound:
        return exclusions.open()

    @property
    def fk_onupdate_is_reflected(self) -> exclusions.compound:
        return exclusions.open()

    @property
    def fk_initially(self) -> exclusions.compound:
        return exclusions.open()

    @property
    def fk_deferrable(self) -> exclusions.compound:
        return exclusions.open()

    @property
    def fk_deferrable_is_reflected(self) -> exclusions.compound:
        return exclusions.open()

    @property
    def computed_columns(self) -> exclusions.compound:
        return exclusions.open()
