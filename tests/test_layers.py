"""Layers point one way: an import check over the source, written as a test.

Every import counts, including those inside functions and under TYPE_CHECKING: a lazy import
still ties the packages together. The checker itself is tested on synthetic modules below, so a
new wrong-way import makes this test fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {
    "app",
    "bench",
    "config",
    "console",
    "domain",
    "extensions",
    "handlers",
    "infra",
    "migrations",
    "models",
    "public",
    "sandbox",
    "services",
    "tests",
    "wechat",
    "worker",
}

# package -> top-level names it must not import
RULES: dict[str, frozenset[str]] = {
    # The framework knows nothing above it: no handlers, services, domain rules or database.
    "wechat": frozenset(
        {
            "app",
            "console",
            "domain",
            "extensions",
            "handlers",
            "infra",
            "models",
            "services",
            "sqlalchemy",
            "worker",
        }
    ),
    # Pure rules: nothing from the project.
    "domain": frozenset(PROJECT - {"domain"}),
    # Use cases on a session, shared by chat, CLI and console: no web framework, no callers.
    "services": frozenset({"app", "console", "extensions", "flask", "handlers", "worker"}),
    # Plumbing (database, Redis, migrations, health, rate limits): nothing of the bot above it.
    "infra": frozenset(
        {"app", "console", "extensions", "handlers", "services", "wechat", "worker"}
    ),
}


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import anywhere in the module, relative ones resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            prefix = ""
            if node.level:
                base = module.split(".")
                prefix = ".".join(base[: len(base) - node.level + (1 if is_package else 0)])
            if node.module:
                yield node.lineno, ".".join(p for p in (prefix, node.module) if p)
            else:  # from . import x: each name is a module of the package
                for alias in node.names:
                    yield node.lineno, ".".join(p for p in (prefix, alias.name) if p)


def violations(root: Path, rules: dict[str, frozenset[str]] = RULES) -> list[Violation]:
    found: list[Violation] = []
    for package, forbidden in rules.items():
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(root, path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, name in imported_names(tree, module, path.name == "__init__.py"):
                top = name.split(".")[0]
                if top in forbidden:
                    found.append(Violation(module, line, name))
    return found


def test_layers_point_one_way() -> None:
    found = violations(ROOT)
    assert not found, "wrong-way imports:\n" + "\n".join(str(v) for v in found)


def test_every_layer_is_checked() -> None:
    for package in RULES:
        assert any((ROOT / package).rglob("*.py")), f"{package}/ has no modules to check"


# -- the checker, on synthetic source trees -----------------------------------------------------


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("wechat/bad.py", "from handlers import team\n", "handlers"),
        ("wechat/bad.py", "import sqlalchemy.exc\n", "sqlalchemy.exc"),
        (
            "wechat/sub/bad.py",
            "def f():\n    from domain.errors import ValidationError\n",
            "domain.errors",
        ),
        (
            "wechat/bad.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from infra.db import Database\n",
            "infra.db",
        ),
        ("domain/bad.py", "from config import Settings\n", "config"),
        ("services/bad.py", "from flask import current_app\n", "flask"),
        ("services/bad.py", "import worker.queue\n", "worker.queue"),
        ("infra/bad.py", "from wechat.client import WeChatAPI\n", "wechat.client"),
        ("infra/pkg/__init__.py", "from ... import handlers\n", "handlers"),
    ],
)
def test_checker_finds_a_wrong_way_import(
    tmp_path: Path, relative: str, source: str, expected: str
) -> None:
    for package in RULES:
        write(tmp_path, f"{package}/__init__.py", "")
    write(tmp_path, relative, source)
    found = violations(tmp_path)
    assert [v.imported for v in found] == [expected]
    assert found[0].module == module_name(tmp_path, tmp_path / relative)


def test_checker_allows_the_right_way(tmp_path: Path) -> None:
    write(
        tmp_path,
        "wechat/ok.py",
        "import redis\nfrom config import Settings\nfrom wechat import x\n",
    )
    write(
        tmp_path,
        "domain/ok.py",
        "import re\nfrom domain.text import normalize\nfrom . import text\n",
    )
    write(tmp_path, "services/ok.py", "from sqlalchemy import select\nfrom domain import regions\n")
    write(tmp_path, "infra/ok.py", "from config import Settings\nfrom flask import Flask\n")
    assert violations(tmp_path) == []
