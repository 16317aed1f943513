"""Where Litestar's dependency injection meets the container: each dependency a handler may name
(``accounts``, ``images``, ``settings``, ``auth``, ...) is a small provider of a container service.

Handlers take them as ``NamedDependency[T]``; nothing in the routes reads the container.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidation

from imagerepo.adapters.oidc import AuthlibOidcClient
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.closing_service import AccountClosingService
from imagerepo.domain.identity import OidcProviderConfig
from imagerepo.domain.identity_service import ExternalSignInService
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.people_service import PeopleService
from imagerepo.domain.similarity_service import SimilarityService
from imagerepo.domain.tokens_service import TokenService
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.http.auth import Auth, provide_auth, provide_viewer
from imagerepo.entrypoints.http.oidc_flow import OidcClient, OidcFlow
from imagerepo.entrypoints.settings import Settings

# The settings, unchecked: Litestar would validate an attrs class field by field on every request.
AppSettings = NamedDependency[SkipValidation[Settings]]
# What /health/ready checks: each dependency by name, a call that raises when it is down.
ReadinessChecks = Sequence[tuple[str, Callable[[], None]]]
# Reads the blob of a signed URL (key, exp, sig) as (bytes, content type) while its image is
# live; BlobMissing or NotFound otherwise.
SignedBlobReader = Callable[[str, str, str], tuple[bytes, str | None]]

# The types handlers name in their signatures, for Litestar to resolve postponed annotations.
SIGNATURE_NAMESPACE: dict[str, Any] = {
    "AccountClosingService": AccountClosingService,
    "AccountService": AccountService, "Auth": Auth, "ExternalSignInService": ExternalSignInService,
    "ImageService": ImageService, "PeopleService": PeopleService,
    "OidcFlow": OidcFlow, "ReadinessChecks": ReadinessChecks, "Settings": Settings,
    "SignedBlobReader": SignedBlobReader, "TokenService": TokenService,
}


def dependencies(container: Container) -> dict[str, Provide]:
    """The app's dependencies, each resolved from ``container`` at request time (so overrides apply)."""

    def settings() -> Settings:
        return container.settings()

    def accounts() -> AccountService:
        return container.account_service()

    def images() -> ImageService:
        return container.image_service()

    def people() -> PeopleService:
        return container.people_service()

    def closing() -> AccountClosingService:
        return container.closing_service()

    def tokens() -> TokenService:
        return container.token_service()

    def similarity() -> SimilarityService:
        return container.similarity_service()

    def external_sign_in() -> ExternalSignInService:
        return container.external_sign_in()

    def readiness() -> ReadinessChecks:
        service = container.image_service()
        return [("database", service.check_database), ("blob_store", service.check_blob_store)]

    def signed_blobs() -> SignedBlobReader:
        return container.image_service().serve_signed_blob

    def client_for(config: OidcProviderConfig) -> OidcClient:
        return AuthlibOidcClient(config, container.http_client())

    flow = OidcFlow(container.settings(), lambda: container.keys().url_key, client_for)

    return {
        "settings": Provide(settings, sync_to_thread=False),
        "accounts": Provide(accounts, sync_to_thread=False),
        "images": Provide(images, sync_to_thread=False),
        "people": Provide(people, sync_to_thread=False),
        "closing": Provide(closing, sync_to_thread=False),
        "tokens": Provide(tokens, sync_to_thread=False),
        "similarity": Provide(similarity, sync_to_thread=False),
        "external_sign_in": Provide(external_sign_in, sync_to_thread=False),
        "readiness": Provide(readiness, sync_to_thread=False),
        "signed_blobs": Provide(signed_blobs, sync_to_thread=False),
        "flow": Provide(lambda: flow, sync_to_thread=False),
        "auth": Provide(provide_auth, sync_to_thread=True),
        "viewer": Provide(provide_viewer, sync_to_thread=True),
    }
