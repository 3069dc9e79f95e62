"""The public API is what we mean it to be (after httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import importlib.metadata
import inspect
import types

import livecue


def _public_members() -> list[str]:
    # dir(), not vars(): it also lists the names the package hands on lazily
    return [
        name
        for name in dir(livecue)
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(getattr(livecue, name), types.ModuleType)  # reachable anyway
        and name != "annotations"  # from __future__ import annotations
    ]


def _isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then everything else."""
    if name.isupper():
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


def test_all_imports_are_exported() -> None:
    assert livecue.__all__ == sorted(_public_members(), key=_isort_style)


def test_all_is_sorted_and_unique() -> None:
    assert len(livecue.__all__) == len(set(livecue.__all__))
    assert livecue.__all__ == sorted(livecue.__all__, key=_isort_style)


def test_every_exported_name_exists() -> None:
    for name in livecue.__all__:
        assert hasattr(livecue, name), name


def test_exported_classes_and_functions_are_ours() -> None:
    for name in livecue.__all__:
        member = getattr(livecue, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("livecue"), name
            assert member.__name__ == name


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from livecue import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == sorted(livecue.__all__)


def test_version_matches_the_installed_distribution() -> None:
    assert livecue.__version__ == importlib.metadata.version("livecue")


def test_the_gateway_clients_are_handed_on_with_the_rest() -> None:
    from livecue._client import AsyncClient, Client

    assert livecue.Client is Client and livecue.AsyncClient is AsyncClient
    assert {"Client", "AsyncClient", "GatewayError", "GatewayUnreachable", "WaitTimeout"} <= set(
        livecue.__all__
    )
