"""The pytest plugin as an application's test suite uses it (run in a child pytest)."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

MODELS = '''
from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    orders: Mapped[list["Order"]] = relationship(back_populates="user")


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User] = relationship(back_populates="orders")


def signup(session, names):
    users = [User(name=n, orders=[Order()]) for n in names]
    session.add_all(users)
    session.commit()
    return [u.id for u in users]


def profiles(session, ids):
    """Select N+1 on purpose: one load per user, one lazy load of orders each."""
    return [(session.get(User, i).name, len(session.get(User, i).orders)) for i in ids]
'''


@pytest.fixture
def app(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.syspathinsert()
    pytester.makepyfile(myapp_models=MODELS)
    pytester.makeini("[pytest]\ndocstore_metadata = myapp_models:Base.metadata\n")
    return pytester


def test_the_readme_example_works_as_written(app: pytest.Pytester) -> None:
    app.makepyfile(test_signup=textwrap.dedent('''
        from myapp_models import User

        def test_signup(docstore_session):
            docstore_session.add(User(name="Alice"))
            docstore_session.commit()
            assert docstore_session.query(User).count() == 1

        def test_next_test_starts_empty(docstore_session):
            assert docstore_session.query(User).count() == 0
    '''))
    app.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_requests_under_the_transactional_fixture_equal_production(
        app: pytest.Pytester) -> None:
    app.makepyfile(test_counts=textwrap.dedent('''
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from myapp_models import Base, profiles, signup
        from sqla_docstore import request_counts

        def production_counts():
            engine = create_engine("docstore://")
            Base.metadata.create_all(engine)
            with Session(engine) as session:
                ids = signup(session, ["a", "b", "c"])
                before = dict(request_counts(session))
                profiles(session, ids)
                after = request_counts(session)
            return {k: after.get(k, 0) - before.get(k, 0) for k in after}, before

        def test_same_requests_as_production(docstore_session):
            ids = signup(docstore_session, ["a", "b", "c"])
            before = dict(request_counts(docstore_session))
            profiles(docstore_session, ids)
            after = request_counts(docstore_session)
            expected, expected_before = production_counts()
            assert before.get("batch") == expected_before.get("batch") == 1
            got = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            assert {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}
            assert got.get("load", 0) >= 3  # session.get() of what the test committed

        def test_assert_max_requests_catches_select_n_plus_1(docstore_session,
                                                               docstore_max_requests):
            ids = signup(docstore_session, ["a", "b", "c"])
            try:
                with docstore_max_requests(docstore_session, 2):
                    profiles(docstore_session, ids)
            except AssertionError as exc:
                assert "2" in str(exc)
            else:
                raise AssertionError("Select N+1 went unnoticed")
    '''))
    app.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_metadata_from_the_command_line_and_a_fixture_override(app: pytest.Pytester) -> None:
    app.makeini("[pytest]\n")
    app.makepyfile(test_option=textwrap.dedent('''
        from myapp_models import User

        def test_tables_exist(docstore_session):
            docstore_session.add(User(name="x"))
            docstore_session.flush()
    '''))
    app.runpytest_subprocess("-p", "no:cacheprovider", "--docstore-metadata",
                  "myapp_models:Base.metadata").assert_outcomes(passed=1)
    app.makeconftest(textwrap.dedent('''
        import pytest
        from myapp_models import Base

        @pytest.fixture
        def docstore_metadata():
            return Base.metadata
    '''))
    app.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_server_module_is_imported_only_when_a_fixture_asks(app: pytest.Pytester) -> None:
    app.makepyfile(test_lazy=textwrap.dedent('''
        import sys

        def test_not_loaded(docstore_session):
            assert "sqla_docstore.testing.server" not in sys.modules
            assert "sqla_docstore.testing.ravendb_server" not in sys.modules
    '''))
    app.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
