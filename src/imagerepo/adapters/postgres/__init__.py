"""Production repositories on PostgreSQL (psycopg 3 + psycopg_pool)."""

from imagerepo.adapters.postgres.database import PostgresDatabase
from imagerepo.adapters.postgres.repositories import (
    PostgresAccountRepository,
    PostgresImageRepository,
    PostgresSessionRepository,
)

__all__ = [
    "PostgresAccountRepository",
    "PostgresDatabase",
    "PostgresImageRepository",
    "PostgresSessionRepository",
]
