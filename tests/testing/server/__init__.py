"""Tests of the bundled RavenDB-compatible server."""
