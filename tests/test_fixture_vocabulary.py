"""The suite's fixture vocabulary (tests/conftest.py's docstring) stays one: only
the root conftest defines `fake`, `km`, `session`, `api` or `threaded_fake`; other
modules configure the loopback pair through the plugin's `*_options` fixtures."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
RESERVED = frozenset({"fake", "km", "session", "api", "threaded_fake"})


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = (
        target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    )
    return name == "fixture"


def _fixture_name(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The name a fixture-decorated function registers (`name=` wins), else None."""
    for decorator in function.decorator_list:
        if not _is_fixture(decorator):
            continue
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
        return function.name
    return None


def reserved_fixtures(source: str) -> list[str]:
    """The reserved names `source` defines as fixtures, anywhere in the module."""
    return sorted(
        name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (name := _fixture_name(node)) in RESERVED
    )


def test_only_the_root_conftest_defines_the_vocabulary() -> None:
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if path != TESTS / "conftest.py"
        and (found := reserved_fixtures(path.read_text()))
    }
    assert offenders == {}
    assert reserved_fixtures((TESTS / "conftest.py").read_text()) == sorted(RESERVED)


def test_the_walk_sees_every_way_of_declaring_a_fixture() -> None:
    source = """
import pytest
import pytest_asyncio
from pytest import fixture

@pytest.fixture
async def fake(): ...

@pytest_asyncio.fixture(scope="module")
def km(): ...

@fixture
def session(): ...

@pytest.fixture(name="api")
def _mocked(): ...

class TestGroup:
    @pytest.fixture
    def threaded_fake(self): ...

@pytest.fixture
def kommunicate_fake_options(): ...

def fake(): ...  # a helper, not a fixture
"""
    assert reserved_fixtures(source) == sorted(RESERVED)
