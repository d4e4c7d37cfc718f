"""The statement language: a SQL subset and RQL queries, parsed into one tree (pure)."""
