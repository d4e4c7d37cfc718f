"""SQLAlchemy's default suite requirements, with only ``independent_connections`` closed (the
store serialises writers): the issue-10 measure of SQL parity, beside ``sqlite://``."""

from typing import Any

from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements


class Requirements(SuiteRequirements):
    @property
    def independent_connections(self) -> Any:
        return exclusions.closed()
