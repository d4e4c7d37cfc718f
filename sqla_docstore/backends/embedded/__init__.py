"""The embedded backend: a document store inside the process, on stdlib sqlite3."""
