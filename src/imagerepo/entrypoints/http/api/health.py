"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from imagerepo.domain.errors import DomainError
from imagerepo.entrypoints.http.deps import ReadinessChecks
from imagerepo.entrypoints.http.schemas import StatusOut

log = logging.getLogger("imagerepo.http")


@get("/health/live", operation_id="live", tags=["health"], summary="The process is up",
     description="Liveness probe: answers while the process serves requests.")
async def live() -> StatusOut:
    return StatusOut(status="ok")


@get("/health/ready", operation_id="ready", tags=["health"], summary="Database and blob store reachable",
     description="Readiness probe: 200 when every dependency answers, else 503 naming the failing ones.",
     sync_to_thread=True,
     responses={503: ResponseSpec(data_container=StatusOut, generate_examples=False,
                                  description="A dependency is down: `failing` names it (details: the log).")})
def ready(readiness: NamedDependency[ReadinessChecks]) -> Response[StatusOut]:
    failing: list[str] = []
    details: dict[str, str] = {}
    for name, check in readiness:
        try:
            check()
        except Exception as e:
            # The probe is public: adapter messages name hosts, paths and buckets, so they go
            # to the log and the caller learns only which dependency is down.
            failing.append(name)
            details[name] = "unavailable"
            log.warning("readiness: %s unavailable: %s", name,
                        e.message if isinstance(e, DomainError) else f"{type(e).__name__}: {e}")
    if failing:
        return Response(StatusOut(status="unavailable", failing=failing, details=details), status_code=503)
    return Response(StatusOut(status="ok"))


ROUTES = [live, ready]
