"""AnalysisScheduler port: wakes workers; the jobs themselves wait in the AnalysisQueue."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class AnalysisScheduler(Protocol):
    def notify(self) -> None:
        """Tell workers there is new work. Must not block and must not fail the caller."""
        ...
