"""The one error tree of the domain; entrypoints map each class to an HTTP status and code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class DomainError(Exception):
    """Base of every error a client may see. ``code`` is the machine code of API.md."""

    code = "error"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class InvalidCredentialsFormat(DomainError):
    """Sign-up data broke one or more credential rules; details map field -> failed rules."""

    code = "invalid_credentials_format"

    def __init__(self, problems: Mapping[str, Sequence[str]]) -> None:
        super().__init__(
            "The username or password does not follow the rules.",
            {field: list(msgs) for field, msgs in problems.items()},
        )


class UsernameTaken(DomainError):
    code = "username_taken"

    def __init__(self, username: str) -> None:
        super().__init__(f"The username {username!r} is already taken.")


class InvalidLogin(DomainError):
    code = "invalid_login"

    def __init__(self) -> None:
        super().__init__("Wrong username or password.")


class TooManyAttempts(DomainError):
    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed sign-in attempts. Try again in {retry_after} seconds.",
            {"retry_after": retry_after},
        )
        self.retry_after = retry_after


class Unauthenticated(DomainError):
    code = "unauthenticated"

    def __init__(self, message: str = "Sign in first: the credential is missing, expired or revoked.") -> None:
        super().__init__(message)


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, what: str = "image") -> None:
        super().__init__(f"No such {what}.")


class TooLarge(DomainError):
    code = "too_large"

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            f"The upload is larger than the limit of {limit_bytes} bytes.",
            {"limit_bytes": limit_bytes},
        )


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"

    def __init__(
        self,
        message: str = "This file is not an image in an accepted format.",
        accepted: Sequence[str] = ("image/jpeg", "image/png", "image/gif", "image/webp"),
    ) -> None:
        super().__init__(message, {"accepted": list(accepted)})


class CrossOriginRequest(DomainError):
    """A request that sets a credential came from another site's page (login CSRF)."""

    code = "cross_origin_request"

    def __init__(self) -> None:
        super().__init__("Sign in from this site's own pages or from a script; other sites may not sign you in.")


class InvalidImage(DomainError):
    code = "invalid_image"


class QuotaExceeded(DomainError):
    code = "quota_exceeded"

    def __init__(self, used: int, limit: int) -> None:
        super().__init__(
            f"You have reached your limit of {limit} images. Delete one to upload more.",
            {"used": used, "limit": limit},
        )
        self.used = used
        self.limit = limit


class DuplicateImage(DomainError):
    code = "duplicate_image"

    def __init__(self, existing_id: str) -> None:
        super().__init__("You already stored this exact image.", {"existing_id": existing_id})
        self.existing_id = existing_id


class InvalidQuery(DomainError):
    code = "invalid_query"


class InvalidPersonName(DomainError):
    """A person's name that is empty or longer than 100 characters."""

    code = "validation_error"

    def __init__(self) -> None:
        super().__init__("A name is 1 to 100 characters.", {"name": ["must be 1 to 100 characters"]})


class TokenLifetimeTooLong(DomainError):
    """An API token asked to live longer than the longest lifetime allowed."""

    code = "token_lifetime_too_long"

    def __init__(self, field: str, max_days: int) -> None:
        super().__init__(
            f"An API token may live at most {max_days} days; ask for a shorter lifetime and create a new "
            "token when it runs out.",
            {field: [f"must be at most {max_days} days from now"]},
        )


class ValidationFailed(DomainError):
    """A request body or parameter of the wrong shape (not a credential rule)."""

    code = "validation_error"


class ServiceUnavailable(DomainError):
    """A dependency (database, blob store) is down; the request changed nothing."""

    code = "service_unavailable"


class Busy(ServiceUnavailable):
    """The server is momentarily at capacity; the message is safe to show and a retry will work."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after


class AnalysisFailed(DomainError):
    """Raised by analyzers; ``retryable`` tells the worker whether to try again later."""

    code = "analysis_failed"

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class BlobMissing(DomainError):
    """A blob store has no object under the key (or it failed authentication)."""

    code = "not_found"
