"""Pytest plugin: with IMAGEREPO_TEST_REQUIRE_SERVICES=1 (CI) any skip or xfail is a failure.

A skipped test proves nothing, and in CI nothing is allowed to go missing quietly: a skip at
collection (module-level ``importorskip``, ``pytest.skip(allow_module_level=True)``), in a fixture,
from a ``skipif`` mark or inside the test, and an expected failure, all fail the run with the
reason printed. Without the variable skips stay skips, so a laptop without PostgreSQL still runs.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

VARIABLE = "IMAGEREPO_TEST_REQUIRE_SERVICES"


def skips_forbidden() -> bool:
    return os.environ.get(VARIABLE) == "1"


def _reason(report: Any) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        path, line, why = longrepr
        return f"{why} ({path}:{line})"
    return str(longrepr)


def _fail(report: Any, what: str) -> None:
    report.outcome = "failed"
    report.longrepr = f"{what}, and {VARIABLE}=1 forbids that: {_reason(report)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if skips_forbidden():
        if hasattr(report, "wasxfail"):  # xfailed or xpassed: either way the test proved nothing
            report.longrepr = f"xfail: {report.wasxfail or 'no reason given'}"
            del report.wasxfail
            _fail(report, "marked as an expected failure")
        elif report.skipped:
            _fail(report, "skipped")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    report = yield
    if skips_forbidden() and report.skipped:
        _fail(report, "skipped at collection")
    return report
