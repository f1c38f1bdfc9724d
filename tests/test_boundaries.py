"""Which part of the code may import which: the rules a reader relies on, as tests."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

# The only imports put off until a run needs them: each is heavy, optional, or both. Every
# other import is at the top of its module (numpy and OpenCV load with the CLI: ~0.2 s).
# spandrel is an optional extra; huggingface_hub (~0.3 s) waits for an hf:// model.
LAZY = ("torch", "ray", "numba", "openvino", "spandrel", "huggingface_hub")


def test_the_library_never_imports_the_cli():
    offenders = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in sorted((REPO_ROOT / "upscale").rglob("*.py"))
        if path.parent.name != "cli" and path.name != "__main__.py"
        and any(text in path.read_text() for text in ("from .cli", "from ..cli", "upscale.cli"))
    ]
    assert offenders == []


def imported_after(modules: str, watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` a fresh interpreter has loaded after importing ``modules``."""
    code = (f"import sys, {modules}; "
            f"print(sorted(m for m in {watched!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO_ROOT, check=True)
    return eval(result.stdout)  # noqa: S307 - our own print of a list of names


def test_the_cli_starts_without_the_lazy_imports():
    """``upscale --help`` and every usage error answer at once."""
    assert imported_after("upscale.cli, upscale.request, upscale.execute", LAZY) == []


def test_only_the_lazy_boundaries_are_imported_inside_functions():
    """A function-local import hides a dependency from readers and tools: one is allowed
    only where it crosses into a lazy package, or into one of our modules that imports one."""
    heavy = heavy_modules()
    offenders = []
    for path in sorted((REPO_ROOT / "upscale").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                loaded = imported_names(path, inner)
                if loaded and not any(is_heavy(name, heavy) for name in loaded):
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{inner.lineno}")
    assert offenders == []


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, node: ast.AST) -> list[str]:
    """What an import statement may load: the modules, and ``package.name`` for each name
    taken from a package (a submodule, or a name the package exports lazily)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module_name(path).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def is_heavy(name: str, heavy: set[str]) -> bool:
    return name.startswith(LAZY) or name in heavy


def heavy_modules() -> set[str]:
    """Our modules (and lazily exported names) whose import loads a lazy package: they
    import one at their top, or one of ours that does; a package's import runs its
    ``__init__``. A name a package exports lazily (``upscale.lazy``: a dict of names to
    ``.module``) loads that module."""
    loads: dict[str, set[str]] = {}
    for path in (REPO_ROOT / "upscale").rglob("*.py"):
        module = module_name(path)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and all(
                    isinstance(value, ast.Constant) and str(value.value).startswith(".")
                    for value in node.value.values) and node.value.values:
                for key, value in zip(node.value.keys, node.value.values, strict=True):
                    loads[f"{module}.{key.value}"] = {f"{module}{value.value}"}
            for name in imported_names(path, node):
                parts = name.split(".")
                loads.setdefault(module, set()).update(
                    {name, *(".".join(parts[:i]) for i in range(1, len(parts)))})
    heavy: set[str] = set()
    changed = True
    while changed:
        changed = False
        for module, names in loads.items():
            if module not in heavy and any(is_heavy(name, heavy) for name in names):
                heavy.add(module)
                changed = True
    return heavy
