"""The Lambda image's platform, read from the Dockerfile and template.yaml, and a task folder
built the way the Dockerfile builds it, on a machine without Docker.

``sam build`` runs the Dockerfile in AWS's base image; pip there picks wheels for *that* image's
Python and glibc, not this machine's. This module resolves the runtime requirements for exactly
that platform (``pip --platform/--python-version``), so a pin without a wheel for the image fails
here, in the tests, instead of at deploy time. Stdlib only: the Makefile runs it before any venv
exists, to pick the Python that matches the image.

    python3 devtools/lambda_image.py python-version   # 3.13
    python3 devtools/lambda_image.py find-python      # a path to a matching interpreter
    python3 devtools/lambda_image.py task-root DIR [--arch arm64]
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
TEMPLATE = ROOT / "template.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"
TASK_ROOT_VAR = "${LAMBDA_TASK_ROOT}"

# The glibc of AWS's Lambda Python base images, by Python version: facts about AWS's images, not
# settings of ours. 3.8-3.11 run Amazon Linux 2, 3.12 and later Amazon Linux 2023.
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
BASE_IMAGE_GLIBC: dict[str, tuple[int, int]] = {
    "3.8": (2, 26), "3.9": (2, 26), "3.10": (2, 26), "3.11": (2, 26),
    "3.12": (2, 34), "3.13": (2, 34), "3.14": (2, 34),
}  # fmt: skip
# Lambda's architecture names -> the machine names in wheel tags.
WHEEL_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
FROM_RE = re.compile(r"public\.ecr\.aws/lambda/python:(?P<version>3\.\d+)[\w.-]*@sha256:[0-9a-f]{64}")


class ImageSpecError(Exception):
    """The Dockerfile or template says something this module cannot reproduce faithfully."""


@dataclass(frozen=True)
class Platform:
    python: str
    """``3.13``"""
    glibc: tuple[int, int]
    arch: str
    """Lambda's name: ``x86_64`` or ``arm64``."""

    def wheel_tags(self) -> list[str]:
        """Every manylinux tag this platform accepts, newest first. ``pip --platform`` does not
        widen a ``manylinux_2_34`` tag to older ones by itself, so each is listed."""
        machine = WHEEL_ARCH[self.arch]
        major, minor = self.glibc
        tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 16, -1)]
        tags.append(f"manylinux2014_{machine}")  # = manylinux_2_17, the legacy spelling
        if machine == "x86_64":
            tags += [f"manylinux2010_{machine}", f"manylinux1_{machine}"]
        return tags

    def pip_args(self) -> list[str]:
        """What makes pip resolve for this platform instead of the machine it runs on."""
        abi = "cp" + self.python.replace(".", "")
        platforms = [arg for tag in self.wheel_tags() for arg in ("--platform", tag)]
        return ["--only-binary=:all:", "--implementation", "cp", "--python-version", self.python,
                "--abi", abi, *platforms]  # fmt: skip


@dataclass(frozen=True)
class ImageSpec:
    """What the Dockerfile and the template say about the image."""

    base_image: str
    python: str
    glibc: tuple[int, int]
    architectures: tuple[str, ...]
    """Every architecture the template lets a stack choose; the first is the default."""
    steps: tuple[tuple[str, str], ...]
    """The Dockerfile's instructions after FROM: (instruction, arguments)."""
    handler: str
    """The function's handler string (the image's CMD)."""

    @classmethod
    def read(cls, dockerfile: Path = DOCKERFILE, template: Path = TEMPLATE) -> ImageSpec:
        steps = list(_instructions(dockerfile.read_text()))
        base = next((args for op, args in steps if op == "FROM"), "")
        match = FROM_RE.fullmatch(base.split()[0]) if base else None
        if match is None:
            raise ImageSpecError(f"{dockerfile.name}: FROM must be an AWS Lambda Python image pinned "
                                 f"by tag and digest, got {base!r}")  # fmt: skip
        python = match["version"]
        if python not in BASE_IMAGE_GLIBC:
            raise ImageSpecError(f"no known glibc for the Lambda Python {python} image")
        cmd = next((args for op, args in steps if op == "CMD"), "")
        handler = _json_list(cmd)
        return cls(
            base_image=base.split()[0],
            python=python,
            glibc=BASE_IMAGE_GLIBC[python],
            architectures=_architectures(template.read_text()),
            steps=tuple((op, args) for op, args in steps if op != "FROM"),
            handler=handler[0] if handler else "",
        )

    def platform(self, arch: str | None = None) -> Platform:
        chosen = arch or self.architectures[0]
        if chosen not in self.architectures:
            raise ImageSpecError(f"template.yaml does not offer architecture {chosen!r}")
        return Platform(self.python, self.glibc, chosen)


def _instructions(text: str) -> Iterator[tuple[str, str]]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        op, _, args = logical.partition(" ")
        yield op.upper(), " ".join(args.split())
        logical = ""


def _json_list(args: str) -> list[str]:
    import json

    value = json.loads(args) if args.startswith("[") else shlex.split(args)
    return [str(v) for v in value]


def _architectures(template: str) -> tuple[str, ...]:
    """The ``Architecture`` parameter's default first, then its other allowed values. (A line scan,
    not a YAML parser: this runs before any venv exists; the template test checks the structure.)"""
    block = re.search(r"^  Architecture:\n((?:    .*\n)+)", template, re.MULTILINE)
    if block is None:
        raise ImageSpecError("template.yaml has no Architecture parameter")
    default = re.search(r"^    Default: (\S+)", block[1], re.MULTILINE)
    allowed = re.search(r"^    AllowedValues: \[([^\]]*)\]", block[1], re.MULTILINE)
    if default is None or allowed is None:
        raise ImageSpecError("template.yaml: the Architecture parameter needs Default and AllowedValues")
    values = [v.strip() for v in allowed[1].split(",")]
    unknown = [v for v in values if v not in WHEEL_ARCH]
    if unknown:
        raise ImageSpecError(f"template.yaml: unknown architectures {unknown}")
    return (default[1], *[v for v in values if v != default[1]])


# ---- the task folder, laid out as the Dockerfile lays it out ------------------------------------
class DockerIgnore:
    """``.dockerignore`` rules: later rules win, ``!`` re-includes, ``**`` spans folders."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for line in text.splitlines():
            rule = line.strip()
            if not rule or rule.startswith("#"):
                continue
            include = rule.startswith("!")
            pattern = rule.lstrip("!").strip("/")
            self.rules.append((include, re.compile(_glob_regex(pattern))))

    def excluded(self, relative: str) -> bool:
        """Docker's rule: a pattern applies when it matches the path or any folder above it, and
        the last pattern that applies decides."""
        parts = relative.split("/")
        paths = ["/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
        result = False
        for include, regex in self.rules:
            if any(regex.fullmatch(path) for path in paths):
                result = not include
        return result


def _glob_regex(pattern: str) -> str:
    out = []
    for part in pattern.split("/"):
        out.append("(?:.*)" if part == "**" else fnmatch.translate(part).removeprefix("(?s:").removesuffix(")\\Z"))
    return "/".join(out).replace("(?:.*)/", "(?:.*/)?")


def build_task_root(dest: Path, arch: str | None = None, spec: ImageSpec | None = None,
                    python: str = sys.executable) -> Path:  # fmt: skip
    """Lay out ``dest`` as the image's ``LAMBDA_TASK_ROOT``, step by step from the Dockerfile.

    COPY copies from the build context as filtered by ``.dockerignore``; the pip step installs the
    requirements resolved for the image's platform; compileall runs as in the image. Any other
    instruction is refused: this must reproduce the Dockerfile, not approximate it.
    """
    spec = spec or ImageSpec.read()
    platform = spec.platform(arch)
    ignore = DockerIgnore(DOCKERIGNORE.read_text())
    dest.mkdir(parents=True, exist_ok=True)
    for op, args in spec.steps:
        if op == "ARG" or op == "CMD" or op == "LABEL":
            continue
        if op == "COPY":
            _copy(args, dest, ignore)
        elif op == "RUN":
            for command in args.split("&&"):
                _run(shlex.split(command.replace(TASK_ROOT_VAR, str(dest))), dest, platform, python)
        else:
            raise ImageSpecError(f"Dockerfile instruction {op} is not reproduced by build_task_root")
    return dest


def _copy(args: str, dest: Path, ignore: DockerIgnore) -> None:
    *sources, target = shlex.split(args)
    if any(s.startswith("--") for s in sources):
        raise ImageSpecError(f"COPY flags are not reproduced: {args}")
    if not target.startswith(TASK_ROOT_VAR):
        raise ImageSpecError(f"COPY outside the task root is not reproduced: {args}")
    where = dest / target.removeprefix(TASK_ROOT_VAR).lstrip("/")
    for source in sources:
        src = ROOT / source
        if src.is_dir():
            files = [p for p in sorted(src.rglob("*")) if p.is_file()]
            kept = [p for p in files if not ignore.excluded(p.relative_to(ROOT).as_posix())]
            if not kept:
                raise ImageSpecError(f"COPY {source}: .dockerignore excludes all of it, the build would fail")
            for path in kept:
                out = where / path.relative_to(src)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out)
        else:  # a file: into the folder when the target names one (trailing /), else as the target
            if ignore.excluded(source):
                raise ImageSpecError(f"COPY {source}: .dockerignore excludes it, the build would fail")
            out = where / src.name if target.endswith("/") else where
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out)


def _run(argv: list[str], dest: Path, platform: Platform, python: str) -> None:
    """The RUN commands the Dockerfile may use, each done as the image would do it."""
    if argv[:2] == ["pip", "install"]:
        if "--target" not in argv or "--only-binary=:all:" not in argv:
            raise ImageSpecError(f"pip install without --target and --only-binary=:all:: {argv}")
        rest = [a for a in argv[2:] if a != "--only-binary=:all:"]
        cmd = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *rest,
               *platform.pip_args()]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
        if proc.returncode != 0:
            raise ImageSpecError(f"pip cannot install the requirements for {platform}:\n{proc.stderr[-2000:]}")
    elif argv[:1] == ["rm"]:
        for path in argv[1:]:
            if not path.startswith("-"):
                Path(path).unlink()
    elif argv[:3] == ["python3", "-m", "compileall"]:
        proc = subprocess.run([python, *argv[1:]], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ImageSpecError(f"compileall failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    else:
        raise ImageSpecError(f"RUN {' '.join(argv)} is not reproduced by build_task_root")


# ---- the interpreter that matches the image ----------------------------------------------------
def find_python(version: str) -> Path:
    """An interpreter of ``version``: ``python3.13`` on PATH, else pyenv's newest 3.13.x."""
    candidates: list[Path] = []
    found = shutil.which(f"python{version}")
    if found:
        candidates.append(Path(found))
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    versions = sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"), key=_patch_level, reverse=True)
    candidates += versions
    for candidate in candidates:
        probe = subprocess.run([str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)  # fmt: skip
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    raise ImageSpecError(f"no Python {version} found (the Lambda image's version): install python{version} "
                         "or pyenv's, or set PYTHON=/path/to/python" + version)  # fmt: skip


def _patch_level(path: Path) -> tuple[int, ...]:
    name = path.parent.parent.name
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("python-version", help="the image's Python version")
    sub.add_parser("find-python", help="path of an interpreter of the image's Python version")
    task = sub.add_parser("task-root", help="lay out the image's task folder in DIR")
    task.add_argument("dir", type=Path)
    task.add_argument("--arch", default=None)
    args = parser.parse_args(argv)
    try:
        spec = ImageSpec.read()
        if args.command == "python-version":
            print(spec.python)
        elif args.command == "find-python":
            print(find_python(spec.python))
        else:
            print(build_task_root(args.dir, args.arch, spec))
    except ImageSpecError as exc:
        print(f"lambda_image: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
