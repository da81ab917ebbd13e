"""The API as editors see it: the type declarations of the compiled core
(_mirrorsim.pyi) match the core, and everything public has a docstring."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import mirrorsim
from mirrorsim import _mirrorsim


def stub_names() -> tuple[set[str], dict[str, set[str]]]:
    """Top-level names and each class's members declared in _mirrorsim.pyi."""
    tree = ast.parse((Path(_mirrorsim.__file__).parent / "_mirrorsim.pyi").read_text())
    top: set[str] = set()
    members: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top.add(node.target.id)
        if isinstance(node, ast.ClassDef):
            members[node.name] = {
                n.name if isinstance(n, ast.FunctionDef) else n.target.id
                for n in node.body
                if isinstance(n, ast.FunctionDef) or (isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name))}
    return top, members


def public(names) -> set[str]:
    return {n for n in names if not n.startswith("_") or n in ("__version__", "__eq__")}


def test_the_stub_declares_exactly_what_the_compiled_core_has():
    top, members = stub_names()
    core = public(dir(_mirrorsim)) - {"Table"}
    assert public(top) - {"Table"} == core
    for cls, declared in members.items():
        actual = {n for n in public(vars(getattr(_mirrorsim, cls))) if n != "__eq__"}
        if issubclass(getattr(_mirrorsim, cls), Exception):
            actual = set()  # `where` is set on instances
            declared = declared - {"where"}
        assert public(declared) - {"__eq__"} == actual, cls


def test_everything_public_has_a_docstring():
    missing = []
    for name in mirrorsim.__all__:
        obj = getattr(mirrorsim, name)
        if name == "__version__":
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj) and obj.__module__.startswith("mirrorsim.") and not issubclass(obj, Exception):
            for member, value in vars(obj).items():
                if member.startswith("_") and member not in ("__init__", "__getitem__", "__setitem__", "__str__",
                                                               "_repr_html_"):
                    continue
                if isinstance(value, (classmethod, staticmethod)):
                    value = value.__func__
                # Its own docstring, not one inherited from object.
                if (inspect.isfunction(value) or isinstance(value, property)) and not (value.__doc__ or "").strip():
                    missing.append(f"{name}.{member}")
    assert missing == []
    for name in dir(_mirrorsim):
        if not name.startswith("_") and callable(getattr(_mirrorsim, name)):
            assert inspect.getdoc(getattr(_mirrorsim, name)), name
