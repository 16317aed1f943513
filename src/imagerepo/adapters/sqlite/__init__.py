"""The embedded default: the SQL repositories on one SQLite file in the data dir (stdlib sqlite3)."""

from imagerepo.adapters.sql.identity_links import SqlIdentityLinkRepository as SqliteIdentityLinkRepository
from imagerepo.adapters.sql.login_throttle import SqlLoginThrottle as SqliteLoginThrottle
from imagerepo.adapters.sql.people import SqlPeopleRepository as SqlitePeopleRepository
from imagerepo.adapters.sql.repositories import SqlAccountRepository as SqliteAccountRepository
from imagerepo.adapters.sql.repositories import SqlImageRepository as SqliteImageRepository
from imagerepo.adapters.sql.repositories import SqlSessionRepository as SqliteSessionRepository
from imagerepo.adapters.sqlite.database import SqliteDatabase

__all__ = [
    "SqliteAccountRepository",
    "SqliteDatabase",
    "SqliteIdentityLinkRepository",
    "SqliteImageRepository",
    "SqliteLoginThrottle",
    "SqlitePeopleRepository",
    "SqliteSessionRepository",
]
