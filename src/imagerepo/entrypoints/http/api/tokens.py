"""Routes for personal access tokens: POST/GET /api/v1/tokens, DELETE /api/v1/tokens/{id}."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from imagerepo.domain.tokens_service import ApiToken, TokenService
from imagerepo.entrypoints.http.auth import Auth
from imagerepo.entrypoints.http.schemas import JSON_BODY_LIMIT, error_responses
from imagerepo.entrypoints.presenters import rfc3339


class TokenIn(msgspec.Struct, forbid_unknown_fields=False):
    name: str | None = None
    # Either an instant or a number of days from now; neither means the default lifetime (90 days).
    expires_at: datetime | None = None
    expires_in_days: int | None = None


class TokenInfoOut(msgspec.Struct):
    id: str
    name: str
    created_at: str
    expires_at: str

    @classmethod
    def of(cls, t: ApiToken) -> TokenInfoOut:
        return cls(id=t.id, name=t.name, created_at=rfc3339(t.created_at), expires_at=rfc3339(t.expires_at))


class TokenCreatedOut(msgspec.Struct):
    id: str
    name: str
    created_at: str
    expires_at: str
    token: str


class TokenListOut(msgspec.Struct):
    items: list[TokenInfoOut]


@post("/api/v1/tokens", operation_id="createToken", tags=["tokens"], status_code=201, sync_to_thread=True,
      request_max_body_size=JSON_BODY_LIMIT,
      summary="Create a personal access token (shown once)",
      description="Only from a signed-in session. Use the returned `token` as `Authorization: Bearer <token>`. "
                  "It is stored only as a hash: it cannot be shown again.",
      responses=error_responses(400, 401, 413, 415, 422, 503))
def create_token(data: JSONBody[TokenIn], auth: NamedDependency[Auth],
                 tokens: NamedDependency[TokenService]) -> Response[TokenCreatedOut]:
    created = tokens.create(auth.account, auth.session, data.name, data.expires_at, data.expires_in_days)
    info = TokenInfoOut.of(created.info)
    return Response(
        TokenCreatedOut(id=info.id, name=info.name, created_at=info.created_at, expires_at=info.expires_at,
                        token=created.token),
        status_code=201, headers={"Cache-Control": "no-store", "Location": f"/api/v1/tokens/{info.id}"},
    )


@get("/api/v1/tokens", operation_id="listTokens", tags=["tokens"], sync_to_thread=True,
     summary="My API tokens (never the secret)", description="Name, creation and expiry of each live token.",
     responses=error_responses(401, 503))
def list_tokens(auth: NamedDependency[Auth], tokens: NamedDependency[TokenService]) -> TokenListOut:
    return TokenListOut(items=[TokenInfoOut.of(t) for t in tokens.list(auth.account)])


@delete("/api/v1/tokens/{token_id:str}", operation_id="revokeToken", tags=["tokens"], status_code=204,
        sync_to_thread=True, summary="Revoke an API token; it stops working at once",
        description="Requests with it are `401` from now on.", responses=error_responses(401, 404, 503))
def revoke_token(token_id: FromPath[str], auth: NamedDependency[Auth], tokens: NamedDependency[TokenService]) -> None:
    tokens.revoke(auth.account, token_id)


ROUTES = [create_token, list_tokens, revoke_token]
