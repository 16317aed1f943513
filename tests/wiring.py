"""Test wiring: the production container with its adapter containers swapped for the in-memory fakes."""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from imagerepo.adapters import memory
from imagerepo.adapters.memory_identity import InMemoryIdentityLinkRepository
from imagerepo.adapters.memory_people import InMemoryPeopleRepository, ScriptedFaceAnalyzer
from imagerepo.adapters.memory_similarity import InMemoryFingerprintRepository
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.settings import Keys, Settings
from imagerepo.ports.signed_blob_server import SignedBlobServer


def memory_people_repository(images: memory.InMemoryImageRepository) -> InMemoryPeopleRepository:
    people = InMemoryPeopleRepository(lambda owner, image: images.get(owner, image) is not None)
    images.person_images = people.image_ids_of  # the memory search's person= filter
    return people


class MemoryAdapters(containers.DeclarativeContainer):
    """In place of the SQL adapters (same provider names); there is no database to open."""

    clock = providers.Dependency()

    database = providers.Object(None)
    account_repository = providers.Singleton(memory.InMemoryAccountRepository)
    session_repository = providers.Singleton(memory.InMemorySessionRepository)
    image_repository = providers.Singleton(memory.InMemoryImageRepository)
    identity_links = providers.Singleton(InMemoryIdentityLinkRepository)
    throttle = providers.Singleton(memory.InMemoryLoginThrottle, clock)
    fingerprint_repository = providers.Singleton(InMemoryFingerprintRepository, image_repository)
    people_repository = providers.Singleton(memory_people_repository, image_repository)


class MemoryStorage(containers.DeclarativeContainer):
    """In place of the file or S3 storage: a dict that serves its own signed URLs, on the container's clock."""

    clock = providers.Dependency()

    blob_store = providers.Singleton(memory.InMemoryBlobStore, clock=clock)
    signed_blob_server = providers.Callable(lambda store: store, blob_store)


def memory_container(settings: Settings | None = None, **overrides: Any) -> Container:
    """The production container on the in-memory fakes; ``overrides`` replace providers by name
    (a ``blob_store`` given here also serves the app's signed URLs when it can)."""
    c = Container()
    s = settings or Settings(workers=0)
    c.settings.override(providers.Object(s))
    c.sql.override(MemoryAdapters(clock=c.clock))
    c.storage.override(providers.Container(MemoryStorage, clock=c.clock))
    defaults: dict[str, Any] = {
        "http_client": object(),
        "inspector": PillowImageInspector(max_pixels=s.max_pixels),
        "analyzer": memory.FakeImageAnalyzer(),
        "hasher": memory.FastPasswordHasher(),
        "gazetteer": memory.FakeGazetteer(),
        "face_analyzer": ScriptedFaceAnalyzer(),
        "keys": Keys(url_key=b"k" * 32, blob_key=b"b" * 32),
    }
    defaults.update(overrides)
    if "blob_store" in overrides:
        store = overrides["blob_store"]
        defaults.setdefault("signed_blob_server", store if isinstance(store, SignedBlobServer) else None)
    for name, value in defaults.items():
        getattr(c, name).override(providers.Object(value))
    return c


def real_container(settings: Settings, **overrides: Any) -> Container:
    """The production container on what ``settings`` names (SQLite in its data dir, or the
    PostgreSQL of its ``database_url``); ``overrides`` replace providers by name."""
    c = Container()
    c.settings.override(providers.Object(settings))
    for name, value in overrides.items():
        getattr(c, name).override(providers.Object(value))
    return c
