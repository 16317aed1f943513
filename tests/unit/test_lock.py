"""uv.lock pins every dependency of every extra (what `make install` syncs with `uv sync --locked`);
that it matches pyproject.toml exactly is `make lock-check` (`uv lock --check`), run by .ci/run."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def test_the_lock_pins_every_dependency_of_every_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"]: p for p in lock["package"]}
    ours = locked["imagerepo"]
    assert set(ours.get("optional-dependencies", {})) == {e for e, reqs in project["optional-dependencies"].items()
                                                        if reqs}
    wanted = list(project["dependencies"]) + [r for reqs in project["optional-dependencies"].values() for r in reqs]
    missing = [r for r in wanted if _name(r) not in locked]
    assert missing == []
    for name, package in locked.items():
        if name != "imagerepo":
            assert "version" in package, name
            assert package["source"].get("registry") == "https://pypi.org/simple", name


def test_make_installs_from_the_lock_and_ci_checks_it_is_current() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "$(UV) sync --locked --all-extras" in makefile
    assert "make lock-check" in (ROOT / ".ci" / "run").read_text()
