"""The RavenDB backend: the same connection contract over RavenDB's HTTP API (requests)."""
