"""Shared fixtures; service fixtures (PostgreSQL, S3) live in their own plugin modules."""

from __future__ import annotations

pytest_plugins = ["tests.fixtures_services", "tests.no_skips", "pytester"]
