"""Every private name of Celery, kombu, py-amqp or billiard that Switchyard uses is listed
in `compat`: a new use (an import, a read, an override) fails here until it is, and with
it gets a contract test (`test_internals_contract`)."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import compat
from tests.unit.first_party import ROOT, first_party_sources

LIBRARIES = ("celery", "kombu", "amqp", "billiard")
PRIVATE = r"_[a-z]\w*"
DEFINED = re.compile(
    rf"(?:def|class) ({PRIVATE})|self\.({PRIVATE})\s*[:=]|^\s*({PRIVATE})\s*[:=]", re.M
)
NOT_LIBRARIES = ("self", "cls", "os")  # receivers of private names that are not the libraries'


@cache
def _library_private_names() -> frozenset[str]:
    """Every private identifier in the four libraries' sources."""
    names: set[str] = set()
    for library in LIBRARIES:
        root = Path(str(importlib.import_module(library).__file__)).parent
        for path in root.rglob("*.py"):
            names.update(re.findall(rf"\b{PRIVATE}", path.read_text(errors="replace")))
    return frozenset(names)


def _private_uses(path: Path, text: str, own: set[str]) -> Iterator[str]:
    """Private names of the four libraries imported, read from an object of theirs (as far
    as a name defined nowhere in Switchyard tells), or overridden by a subclass."""
    imports_a_library = re.search(rf"^(from|import) ({'|'.join(LIBRARIES)})\b", text, re.M)
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            yield from (a.name for a in node.names if a.name.startswith("_"))
        elif isinstance(node, ast.Attribute) and re.fullmatch(PRIVATE, node.attr):
            receiver = node.value
            if isinstance(receiver, ast.Name) and receiver.id in NOT_LIBRARIES:
                continue
            if node.attr in _library_private_names() and node.attr not in own:
                yield node.attr
        elif isinstance(node, ast.ClassDef) and imports_a_library and _has_bases(node):
            yield from _overridden(path, node)


def _has_bases(node: ast.ClassDef) -> bool:
    """Whether the class derives from anything but builtins (which never are the libraries')."""
    return any(not (isinstance(b, ast.Name) and hasattr(builtins, b.id)) for b in node.bases)


def _overridden(path: Path, node: ast.ClassDef) -> Iterator[str]:
    """Private methods of `node` that a library base class defines or calls."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    cls = getattr(importlib.import_module(module), node.name, None)
    if not isinstance(cls, type):
        return
    bases = [b for b in cls.__mro__[1:] if b.__module__.split(".")[0] in LIBRARIES]
    for item in node.body:
        if not (isinstance(item, ast.FunctionDef) and re.fullmatch(PRIVATE, item.name)):
            continue
        if any(_defines_or_calls(base, item.name) for base in bases):
            yield item.name


def _defines_or_calls(base: type, name: str) -> bool:
    return name in vars(base) or re.search(rf"\.{name}\b", _source(base)) is not None


@cache
def _source(cls: type) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):  # a class made at run time has no source of its own
        return ""


def test_every_private_name_used_is_listed() -> None:
    """A new use of a private name of Celery, kombu, py-amqp or billiard (imported, read,
    or a private method overridden) fails here until compat lists it."""
    listed = compat.__doc__ or ""
    sources = list(first_party_sources())
    own = {n for _, text in sources for m in DEFINED.finditer(text) for n in m.groups() if n}
    found = {
        f"{path.relative_to(ROOT)}: {name}"
        for path, text in sources
        for name in _private_uses(path, text, own)
        if name not in listed
    }
    assert found == set(), f"private names used but not listed in compat: {sorted(found)}"


def test_the_scan_sees_a_private_name() -> None:
    """The scan above can fail: it finds an import, a read and an override."""
    text = (
        "from celery.utils.functional import _regen\n"
        "def publish(channel):\n    return channel._basic_publish\n"
    )
    assert set(_private_uses(ROOT / "compat" / "probe.py", text, set())) == {
        "_regen",
        "_basic_publish",
    }
    overrides = set(_overridden(ROOT / "results" / "backend.py", _class("SwitchyardBackend")))
    assert {"_store_result", "_get_task_meta_for", "_forget"} <= overrides


def _class(name: str) -> ast.ClassDef:
    tree = ast.parse((ROOT / "results" / "backend.py").read_text())
    return next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == name)
