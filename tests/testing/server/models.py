"""Entity classes the official ravendb client stores in the server tests."""

from __future__ import annotations


class User:
    def __init__(self, name: str | None = None, age: int | None = None,
                 email: str | None = None, Id: str | None = None) -> None:  # noqa: N803
        self.Id = Id
        self.name = name
        self.age = age
        self.email = email


class Company:
    def __init__(self, name: str | None = None, Id: str | None = None) -> None:  # noqa: N803
        self.Id = Id
        self.name = name


class NameOnly:
    def __init__(self, name: str | None = None) -> None:
        self.name = name


class NameCount:
    def __init__(self, name: str | None = None, count: int | None = None) -> None:
        self.name = name
        self.count = count
