"""Versioned SQL migrations, one directory of ``NNNN_name.sql`` files per dialect.

Each database adapter applies the files whose version is not yet in its ``schema_version``
table, in order, inside one transaction that also holds a lock (PostgreSQL: an advisory lock;
SQLite: BEGIN IMMEDIATE), so two processes starting at once apply each step exactly once.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from importlib import resources

import attrs

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@attrs.frozen
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> Iterator[str]:
        """The file split into complete statements (SQLite runs one at a time)."""
        buf = ""
        for line in self.sql.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                if buf.strip():
                    yield buf.strip()
                buf = ""
        if buf.strip() and not buf.strip().startswith("--"):
            yield buf.strip()


def load(dialect: str) -> list[Migration]:
    """Every migration of ``dialect`` ('sqlite' or 'postgres'), oldest first."""
    folder = resources.files("imagerepo.adapters.sql").joinpath("schema", dialect)
    found = []
    for entry in folder.iterdir():
        m = _NAME.fullmatch(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two {dialect} migrations share a version: {versions}")
    return found
