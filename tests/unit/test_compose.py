"""The Docker Compose example makes the operator choose every secret: none has a default value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).parents[2] / "docker-compose.yml"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$")  # AWS_ACCESS_KEY_ID and friends are names, not secrets
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}
INTERPOLATION = re.compile(r"\$\{(?P<var>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<rest>[^}]*))?\}")


def environments(node: Any) -> list[dict[str, str]]:
    """Every `environment:` mapping in the file (anchors resolved)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "environment" and isinstance(value, dict):
                found.append({str(k): str(v) for k, v in value.items()})
            else:
                found += environments(value)
    elif isinstance(node, list):
        for item in node:
            found += environments(item)
    return found


def secret_defaults(text: str) -> list[str]:
    """Secrets a `docker compose up` would fill in by itself: literal values of secret settings,
    and defaults of secret variables wherever they are interpolated."""
    problems = []
    for env in environments(yaml.safe_load(text)):
        for name, value in env.items():
            if SECRET_NAME.search(name) and value and not INTERPOLATION.search(value):
                problems.append(f"{name} is the literal {value[:12]!r}…")
    for m in INTERPOLATION.finditer(text):
        if SECRET_NAME.search(m["var"]) and m["op"] in ("-", ":-") and m["rest"]:
            problems.append(f"${{{m['var']}}} defaults to {m['rest'][:12]!r}…")
    return problems


def test_no_secret_in_the_compose_file_has_a_default() -> None:
    assert secret_defaults(COMPOSE.read_text()) == []


def test_the_check_finds_a_default_secret() -> None:
    assert secret_defaults("services:\n  s:\n    environment:\n      DB_PASSWORD: hunter2\n") != []
    assert secret_defaults("services:\n  s:\n    environment:\n      X: a:${KMS_SECRET_KEY:-k1}\n") != []
    assert secret_defaults("services:\n  s:\n    environment:\n      K: ${AZURE_KEY:-}\n      "
                           "P: ${DB_PASSWORD:?set DB_PASSWORD}\n") == []
