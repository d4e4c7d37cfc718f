"""One transaction that moves primary keys or unique values between rows commits as SQLite
commits it, on the embedded store and on RavenDB (``engine``: both), against ``sqlite3``.

On RavenDB a commit is one cluster-wide batch when the table has a UNIQUE constraint (the
values are compare-exchange reservations), a single-node batch otherwise. RavenDB checks every
atomic guard of a cluster transaction against the guards as they were before it (the bundled
server does as RavenDB's ``ClusterTransactionCommand`` does), so the batch names each document
once, for what the transaction leaves of it: a key moved away and another row moved onto it is
one PUT guarded as the stored document was, a row inserted and then moved away is not sent at
all. Unique values are checked on what the transaction leaves, not on the steps in between.

Each case runs its statements ("COMMIT" commits in between), commits, reads the table; then a
second transaction empties the table and a third inserts keys 1-4 again (a guard or a
reservation that outlived its row would refuse one of them), and the table is read again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

UNIQUE = "CREATE TABLE parent (id INTEGER PRIMARY KEY, code VARCHAR UNIQUE)"
PLAIN = "CREATE TABLE parent (id INTEGER PRIMARY KEY, code VARCHAR)"

STORED = ["INSERT INTO parent (id, code) VALUES (1, 'a'), (2, 'b')", "COMMIT"]
PENDING = ["INSERT INTO parent (id, code) VALUES (1, 'a'), (2, 'b')"]
SWAP = ["UPDATE parent SET code = 't' WHERE id = 1", "UPDATE parent SET code = 'a' WHERE id = 2",
        "UPDATE parent SET code = 'b' WHERE id = 1"]
REKEY = ["UPDATE parent SET id = 3 WHERE id = 1", "UPDATE parent SET id = 1 WHERE id = 2"]
CHAIN = [*REKEY, "UPDATE parent SET id = 2 WHERE id = 3"]

CASES = {
    "swap_unique_values_of_rows_inserted_in_the_transaction": PENDING + SWAP,
    "swap_unique_values_of_stored_rows": STORED + SWAP,
    "swap_unique_values_of_a_stored_and_an_inserted_row": [
        "INSERT INTO parent (id, code) VALUES (1, 'a')", "COMMIT",
        "INSERT INTO parent (id, code) VALUES (2, 'b')", *SWAP],
    "rekey_a_stored_row_away_and_another_onto_its_key": STORED + REKEY,
    "rekey_rows_inserted_in_the_transaction": PENDING + REKEY,
    "rekey_chain_of_stored_rows": STORED + CHAIN,
    "rekey_chain_of_rows_inserted_in_the_transaction": PENDING + CHAIN,
    "rekey_a_stored_row_away_and_back": STORED + [
        "UPDATE parent SET id = 3 WHERE id = 1", "UPDATE parent SET id = 1 WHERE id = 3"],
    "rekey_away_then_insert_the_key_with_the_moved_rows_value": STORED + [
        "UPDATE parent SET id = 3, code = 'c' WHERE id = 1",
        "INSERT INTO parent (id, code) VALUES (1, 'a')"],
    "delete_then_insert_a_stored_key": STORED + [
        "DELETE FROM parent WHERE id = 1", "INSERT INTO parent (id, code) VALUES (1, 'b2')"],
    "delete_then_insert_a_stored_key_with_its_value": STORED + [
        "DELETE FROM parent WHERE id = 1", "INSERT INTO parent (id, code) VALUES (1, 'a')"],
    "insert_delete_insert_one_key_in_the_transaction": [
        "INSERT INTO parent (id, code) VALUES (1, 'a')", "DELETE FROM parent WHERE id = 1",
        "INSERT INTO parent (id, code) VALUES (1, 'a')"],
    "insert_then_delete_in_the_transaction": PENDING + ["DELETE FROM parent WHERE id = 2"],
    "delete_a_stored_row_and_give_its_value_to_another": STORED + [
        "DELETE FROM parent WHERE id = 1", "UPDATE parent SET code = 'a' WHERE id = 2"],
    "replace_a_stored_row_after_moving_its_key_away": STORED + [
        "UPDATE parent SET id = 3 WHERE id = 2",
        "INSERT OR REPLACE INTO parent (id, code) VALUES (2, 'b')"],
}


def _script(statements: list[str]) -> Callable[[Any], list[Any]]:
    def run(conn: Any) -> list[Any]:
        cur = conn.cursor()
        for sql in statements:
            if sql == "COMMIT":
                conn.commit()
            else:
                cur.execute(sql)
        conn.commit()
        out = [_table(conn)]
        cur.execute("DELETE FROM parent")
        conn.commit()
        cur.execute("INSERT INTO parent (id, code) VALUES (1, 'a'), (2, 'b'), (3, 'c'),"
                    " (4, 'd')")
        conn.commit()
        out.append(_table(conn))
        return out

    return run


def _table(conn: Any) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute("SELECT id, code FROM parent ORDER BY id")
    return [tuple(r) for r in cur.fetchall()]


@pytest.mark.parametrize("ddl", [UNIQUE, PLAIN], ids=["unique", "plain"])
@pytest.mark.parametrize("case", list(CASES))
def test_transaction_commits_as_sqlite_does(
        raw_and_sqlite: Callable[[str, Callable[[Any], Any]], tuple[Any, Any]], ddl: str,
        case: str) -> None:
    got, expected = raw_and_sqlite(ddl, _script(CASES[case]))
    assert got == expected
