"""Backends: where documents live. They never import SQLAlchemy."""
