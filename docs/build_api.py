"""Write the API reference pages, docs/api/<module>.md, from the docstrings.

Run from the repository root: ``python docs/build_api.py``. The test suite
checks that the committed pages match what this script writes.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

MODULES = [
    "tensortrain.tensor_train",
    "tensortrain.tt_matrix",
    "tensortrain.decompositions",
    "tensortrain.canonical",
    "tensortrain.ops",
    "tensortrain.products",
    "tensortrain.construct",
    "tensortrain.contract",
    "tensortrain.backend",
    "tensortrain.errors",
    "tensortrain.nn.module",
    "tensortrain.nn.linear",
    "tensortrain.nn.activations",
    "tensortrain.nn.cells",
    "tensortrain.nn.sequence",
    "tensortrain.nn.losses",
    "tensortrain.nn.optim",
    "tensortrain.nn.init",
    "tensortrain.nn.gradcheck",
    "tensortrain.nn.serialize",
    "tensortrain.nn.compress",
    "tensortrain.data.chorales",
    "tensortrain.data.baselines",
    "tensortrain.data.mnist",
    "tensortrain.data.batching",
]

API_DIR = Path(__file__).resolve().parent / "api"


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""


def _doc(obj) -> str:
    return inspect.cleandoc(obj.__doc__ or "(no docstring)")


def _class_members(cls):
    for name, member in vars(cls).items():
        if name.startswith("_") and name not in ("__init__", "__call__", "__getitem__", "__matmul__"):
            continue
        if isinstance(member, property):
            yield name, "", member.__doc__
        elif isinstance(member, (classmethod, staticmethod)):
            yield name, _signature(member.__func__), member.__func__.__doc__
        elif inspect.isfunction(member) and member.__doc__:
            yield name, _signature(member), member.__doc__


def render(module_name: str) -> str:
    """The Markdown page of one module."""
    module = importlib.import_module(module_name)
    lines = [f"# `{module_name}`", "", _doc(module), ""]
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.isclass(obj):
            lines += [f"## class `{name}{_signature(obj)}`", "", _doc(obj), ""]
            for member, signature, doc in _class_members(obj):
                lines += [f"### `{name}.{member}{signature}`", "", inspect.cleandoc(doc or ""), ""]
        elif callable(obj):
            lines += [f"## `{name}{_signature(obj)}`", "", _doc(obj), ""]
        else:
            lines += [f"## `{name}`", "", f"`{obj!r}`", ""]
    return "\n".join(lines).rstrip() + "\n"


def pages() -> dict[str, str]:
    """Every page, by file name."""
    return {f"{name}.md": render(name) for name in MODULES}


def main() -> int:
    API_DIR.mkdir(exist_ok=True)
    written = pages()
    for stale in API_DIR.glob("*.md"):
        if stale.name not in written and stale.name != "index.md":
            stale.unlink()
    for file_name, text in written.items():
        (API_DIR / file_name).write_text(text)
    index = ["# API reference", "", "One page per module, generated from the docstrings.", ""]
    index += [f"- [`{Path(f).stem}`]({f})" for f in written]
    (API_DIR / "index.md").write_text("\n".join(index) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
