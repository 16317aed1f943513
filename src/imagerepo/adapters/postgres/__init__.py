"""Production: the SQL repositories on PostgreSQL (psycopg 3 + psycopg_pool)."""

from imagerepo.adapters.postgres.database import PostgresDatabase
from imagerepo.adapters.sql.identity_links import SqlIdentityLinkRepository as PostgresIdentityLinkRepository
from imagerepo.adapters.sql.login_throttle import SqlLoginThrottle as PostgresLoginThrottle
from imagerepo.adapters.sql.people import SqlPeopleRepository as PostgresPeopleRepository
from imagerepo.adapters.sql.repositories import SqlAccountRepository as PostgresAccountRepository
from imagerepo.adapters.sql.repositories import SqlImageRepository as PostgresImageRepository
from imagerepo.adapters.sql.repositories import SqlSessionRepository as PostgresSessionRepository

__all__ = [
    "PostgresAccountRepository",
    "PostgresDatabase",
    "PostgresIdentityLinkRepository",
    "PostgresImageRepository",
    "PostgresLoginThrottle",
    "PostgresPeopleRepository",
    "PostgresSessionRepository",
]
