"""Batch commands and their RavenDB wire form (the shape the HTTP backend will send)."""

from __future__ import annotations

from sqla_docstore.commands import Batch, Delete, Patch, Put


def test_put_wire_form_carries_collection_metadata() -> None:
    put = Put("Users", "users/1", {"name": "a"}, "")
    assert put.to_json() == {
        "Id": "users/1",
        "ChangeVector": "",
        "Document": {"name": "a", "@metadata": {"@collection": "Users"}},
        "Type": "PUT",
    }
    assert put.body == {"name": "a"}  # the wire form does not mutate the body


def test_patch_wire_form_is_a_script_with_arguments() -> None:
    patch = Patch("users", "users/1", {"name": "b", 'we"ird': 1}, "A:1-x", unset=("old",))
    wire = patch.to_json()
    assert wire["Type"] == "PATCH" and wire["ChangeVector"] == "A:1-x"
    assert wire["Patch"]["Script"].splitlines() == [
        'this["name"] = args.v0;',
        'this["we\\"ird"] = args.v1;',
        'delete this["old"];',
    ]
    assert wire["Patch"]["Values"] == {"v0": "b", "v1": 1}


def test_patch_values_are_arguments_not_script_text() -> None:
    evil = "'; this.admin = true; '"
    wire = Patch("users", "users/1", {"name": evil}).to_json()
    assert evil not in wire["Patch"]["Script"]
    assert wire["Patch"]["Values"]["v0"] == evil


def test_delete_wire_form() -> None:
    assert Delete("users", "users/1").to_json() == {
        "Id": "users/1", "ChangeVector": None, "Type": "DELETE"
    }
    assert Delete("users", "users/1").must_exist


def test_batch_wire_form_and_cluster_wide() -> None:
    batch = Batch([Put("t", "t/1", {}), Delete("t", "t/2")])
    assert [c["Type"] for c in batch.to_json()["Commands"]] == ["PUT", "DELETE"]
    assert "TransactionMode" not in batch.to_json()
    assert Batch([], cluster_wide=True).to_json() == {
        "Commands": [], "TransactionMode": "ClusterWide"
    }
