"""The architecture as import rules, one per package: importing a package (and everything it pulls
in) must not load what that layer may not depend on. Each check runs in a fresh interpreter, so
modules that other tests loaded cannot hide a violation."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[2] / "layers" / "avi2mp4"
AWS = ("boto3", "botocore", "s3transfer", "aws_lambda_powertools")
ADAPTERS = ("handler", "devtools", "operations", "moto")
MEDIA_LIBS = ("av", "numpy", "PIL")


def modules(package: str) -> list[str]:
    folder = LIBRARY / package.removeprefix("avi2mp4").strip(".").replace(".", "/")
    if folder.with_suffix(".py").is_file():
        return [package]
    return [f"{package}.{p.stem}" if p.stem != "__init__" else package for p in sorted(folder.glob("*.py"))]


def loaded_by(imports: list[str]) -> set[str]:
    """Top-level names of every module loaded by importing ``imports`` in a fresh interpreter."""
    code = "import sys\n" + "".join(f"import {m}\n" for m in imports) + "print(' '.join(sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return {name.split(".")[0] for name in proc.stdout.split()} | set(proc.stdout.split())


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("avi2mp4.media", (*AWS, *ADAPTERS, "avi2mp4.labeling", "avi2mp4.storage", "avi2mp4.outputs")),
        ("avi2mp4.labeling", (*AWS, *ADAPTERS, "avi2mp4.storage", "avi2mp4.outputs")),
        ("avi2mp4.storage.port", (*AWS, *ADAPTERS, *MEDIA_LIBS)),
        ("avi2mp4.storage.local", (*AWS, *ADAPTERS, *MEDIA_LIBS)),
        ("avi2mp4.outputs.names", (*AWS, *ADAPTERS, *MEDIA_LIBS)),
        ("avi2mp4.settings", (*AWS, *ADAPTERS, *MEDIA_LIBS)),
        ("avi2mp4.pipeline", (*AWS, *ADAPTERS, "avi2mp4.storage")),
        ("avi2mp4.handover", (*AWS, *ADAPTERS, "av", "avi2mp4.media", "avi2mp4.storage")),
        ("avi2mp4.jpeg_sampler", (*AWS, *ADAPTERS, "avi2mp4.storage", "avi2mp4.outputs")),
        ("avi2mp4.conversion", (*AWS, *ADAPTERS)),
        ("avi2mp4.cli.main", (*AWS, *ADAPTERS)),
        ("avi2mp4.storage.s3", (*ADAPTERS, *MEDIA_LIBS, "aws_lambda_powertools")),
    ],
)
def test_package_does_not_load(package: str, forbidden: tuple[str, ...]) -> None:
    loaded = loaded_by(modules(package))
    assert not loaded & set(forbidden), f"{package} loads {sorted(loaded & set(forbidden))}"


def test_nothing_in_the_library_imports_its_adapters() -> None:
    """Static, so a lazy import inside a function counts too."""
    offenders = []
    for path in LIBRARY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(LIBRARY)}: {n}" for n in names if n.split(".")[0] in ADAPTERS]
    assert offenders == []


def _project_imports() -> dict[str, set[str]]:
    """module -> the project modules it imports: anywhere in it (inside functions too, and for type
    checking only: a module that needs another's types to be read is tied to it all the same)."""
    roots = {"avi2mp4": LIBRARY, **{name: LIBRARY.parents[1] / name for name in ("handler", "devtools", "operations")}}
    files = {}
    for top, folder in roots.items():
        for path in folder.rglob("*.py"):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*kept, base]).strip(".")
                found |= {base} | {f"{base}.{a.name}" for a in node.names}
        graph[module] = {m for m in found if m in files and m != module}
    return graph


def test_no_import_cycles_in_the_project() -> None:
    """A cycle means two modules that cannot be understood (or loaded) one without the other."""
    graph = _project_imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert len(graph) > 60 and graph["handler.app"], "the graph was read"
    assert cycles == []
