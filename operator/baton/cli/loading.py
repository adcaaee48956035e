"""Load a flow object from an entrypoint string (`path/file.py:func` or `pkg.mod:func`).

A path entrypoint is a file inside the code root (the pod's working directory, a
process worker's ``--work-dir``): an absolute path, a ``..`` or a symlink leading
out of it is refused before anything is imported, since importing runs the file.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from contextvars import ContextVar
from pathlib import Path, PurePosixPath
from typing import Any

from baton.resources.flow import entrypoint_problem

# The entrypoint being imported right now, if any. A module-level ``flow.serve(...)`` or
# ``flow.deploy(...)`` (Prefect's tutorials have one with no ``__main__`` guard) runs
# again whenever a run loads the file; while this is set they do nothing.
_LOADING: ContextVar[str | None] = ContextVar("baton_loading_entrypoint", default=None)


class EntrypointError(ValueError):
    """The entrypoint cannot be loaded; the message says which part failed."""


def loading_entrypoint() -> str | None:
    """The entrypoint whose module is being imported by ``load_flow``, or None."""
    return _LOADING.get()


def load_flow(entrypoint: str, *, base: Path | None = None) -> Any:
    """Import the module an entrypoint names and return the attribute it names.

    While the module is imported, ``serve()`` and ``deploy()`` are no-ops (see
    ``loading_entrypoint``): loading a flow to run it never starts serving it.
    """
    token = _LOADING.set(entrypoint)
    try:
        return _import_attribute(entrypoint, base)
    finally:
        _LOADING.reset(token)


def _import_attribute(entrypoint: str, base: Path | None) -> Any:
    target, sep, attribute = entrypoint.rpartition(":")
    if not sep or not target or not attribute:
        raise EntrypointError(
            f"entrypoint {entrypoint!r} must look like path/to/file.py:func or package.module:func"
        )
    problem = entrypoint_problem(entrypoint)
    if problem:
        raise EntrypointError(problem)
    if target.endswith(".py"):
        path = entrypoint_file(target, base or Path.cwd())
        if not path.exists():
            raise EntrypointError(f"entrypoint file {path} does not exist")
        module_name = f"__baton_flow_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise EntrypointError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        sys.path.insert(0, str(path.parent))
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as error:
            raise EntrypointError(f"cannot import module {target!r}: {error}") from error
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise EntrypointError(f"{target} has no attribute {attribute!r}") from None


def entrypoint_file(target: str, base: Path) -> Path:
    """The file a path entrypoint names; ``EntrypointError`` unless it is inside ``base``."""
    relative = PurePosixPath(target)
    if relative.is_absolute() or ".." in relative.parts:
        raise EntrypointError(
            f"entrypoint path {target!r} must be relative to the code root, without '..'"
        )
    root = base.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise EntrypointError(
            f"entrypoint path {target!r} resolves to {path}, outside the code root {root}"
        )
    return path
