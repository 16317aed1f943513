"""Wire shapes of API.md, as msgspec structs (they also give the OpenAPI document its schemas);
the image ones are in presenters.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from imagerepo.domain.accounts import PASSWORD_RULES, USERNAME_RULES, Account, QuotaUse
from imagerepo.entrypoints.presenters import ImageOut, rfc3339


class ErrorBody(msgspec.Struct):
    code: str
    message: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class ErrorOut(msgspec.Struct):
    error: ErrorBody


class CredentialsIn(msgspec.Struct, forbid_unknown_fields=False):
    username: Annotated[str, msgspec.Meta(description="; ".join(USERNAME_RULES), examples=["alice"])] | None = None
    password: Annotated[str, msgspec.Meta(description="; ".join(PASSWORD_RULES),
                                          examples=["correct horse battery"])] | None = None


class AccountOut(msgspec.Struct):
    id: str
    username: str
    created_at: str

    @classmethod
    def of(cls, a: Account) -> AccountOut:
        return cls(id=a.id, username=a.username, created_at=rfc3339(a.created_at))


class TokenOut(msgspec.Struct):
    token: str
    expires_at: str


class QuotaOut(msgspec.Struct):
    used: int
    limit: int


class SettingsOut(msgspec.Struct):
    face_recognition: bool
    keep_location: bool


class SettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Either or both; a field left out keeps its value."""

    face_recognition: bool | None = None
    keep_location: bool | None = None


class CloseAccountIn(msgspec.Struct, forbid_unknown_fields=True):
    """The account's own username, typed again to confirm."""

    username: str


class MeOut(msgspec.Struct):
    id: str
    username: str
    quota: QuotaOut
    settings: SettingsOut

    @classmethod
    def of(cls, a: Account, q: QuotaUse) -> MeOut:
        s = SettingsOut(face_recognition=a.settings.face_recognition, keep_location=a.settings.keep_location)
        return cls(id=a.id, username=a.username, quota=QuotaOut(used=q.used, limit=q.limit), settings=s)


class ImagePageOut(msgspec.Struct):
    items: list[ImageOut]
    next_cursor: str | None


class StatusOut(msgspec.Struct, omit_defaults=True):
    status: str
    failing: list[str] = msgspec.field(default_factory=list)
    details: dict[str, str] = msgspec.field(default_factory=dict)


class RulesOut(msgspec.Struct):
    username: list[str]
    password: list[str]


# ------------------------------------------------------------------ OpenAPI: errors and uploads

# What each error status means on this API (API.md); routes list the statuses they can answer.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "`bad_request` / `validation_error`: the request is malformed; `details` maps fields to messages.",
    401: "`unauthenticated`: the credential is missing, expired or revoked (`invalid_login` when signing in).",
    403: "`forbidden`: not allowed from this kind of credential; `cross_origin_request`: another site's page.",
    404: "`not_found`: no such resource of yours (another user's looks the same).",
    409: "`username_taken`, `quota_exceeded` (details: used, limit) or `duplicate_image` (details: existing id).",
    413: "`too_large`: the body is over the size limit.",
    415: "`unsupported_media_type`: not an image or not an accepted format; a JSON endpoint sent another type.",
    422: "`invalid_credentials_format`, `invalid_image`, `invalid_query` or `token_lifetime_too_long`; "
         "`details` say which rule failed.",
    429: "`too_many_attempts`: wait the seconds of `Retry-After`.",
    503: "`service_unavailable`: a storage service is down or the server is busy; nothing was changed.",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI responses for ``statuses`` and 400 (any request can be malformed; this replaces
    Litestar's own 400 body), each with the API.md error body."""
    return {
        status: ResponseSpec(data_container=ErrorOut, description=ERROR_DESCRIPTIONS[status], generate_examples=False)
        for status in sorted({400, *statuses})
    }


@dataclass
class UploadOperation(Operation):
    """The upload handler streams the raw body itself (no ``data`` parameter for Litestar to
    parse), so its multipart request body is declared here for the OpenAPI document."""

    def __post_init__(self) -> None:
        file_schema = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY,
                             description="the image: JPEG, PNG, GIF, WebP (HEIC/AVIF where supported)")
        self.request_body = RequestBody(
            required=True,
            description="multipart/form-data with the image in the field `file`",
            content={"multipart/form-data": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.OBJECT, properties={"file": file_schema}, required=["file"]),
            )},
        )


# Bodies of the JSON endpoints are small; uploads have their own limit.
JSON_BODY_LIMIT = 64 * 1024
