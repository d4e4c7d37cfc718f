"""Test support for applications on sqla_docstore: a pytest plugin and compliance requirements."""
