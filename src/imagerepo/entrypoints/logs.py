"""Log set-up: imagerepo's own loggers at IMAGEREPO_LOG_LEVEL, libraries at WARNING whatever it is.

Libraries log secrets below WARNING: botocore writes the canonical request and signature of every
presigned URL at DEBUG (enough to rebuild the URL), urllib3 and httpx log request lines with
their query strings. Their loggers get an explicit level, so even a root logger turned down to
DEBUG by an embedding program lets nothing of theirs below WARNING through.
"""

from __future__ import annotations

import logging
import sys

from litestar.logging import LoggingConfig

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LIBRARIES = (
    "botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore", "authlib", "psycopg", "psycopg_pool",
    "PIL", "multipart", "asyncio", "litestar", "onnxruntime", "mediapipe", "absl",
)


def _quiet(level: str) -> str:
    """The level for everything that is not imagerepo: ``level``, but never below WARNING."""
    return str(logging.getLevelName(max(logging.getLevelName(level), logging.WARNING)))


def set_levels(level: str) -> None:
    """imagerepo's loggers at ``level``, each library at WARNING or above. Levels only: handlers
    others attached (tests, an embedding program) stay."""
    logging.getLogger("imagerepo").setLevel(level)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(_quiet(level))


def configure_logging(level: str) -> None:
    """Logging of a command: records to stderr."""
    logging.basicConfig(level=_quiet(level), format=FORMAT, stream=sys.stderr)
    set_levels(level)


def app_logging(level: str) -> LoggingConfig:
    """The web app's root logger (Litestar applies it when the app is made, replacing the
    command's): the same format, through Litestar's queue so a slow stderr never blocks a request.
    create_app calls set_levels afterwards."""
    return LoggingConfig(formatters={"standard": {"format": FORMAT}},
                         root={"level": _quiet(level), "handlers": ["queue_listener"]})
