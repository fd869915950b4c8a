"""The image can be built: every pinned runtime requirement has a wheel for the platform of the
Lambda base image the Dockerfile names (its Python and glibc), for each architecture the template
offers; and what is tested here runs on that Python.

pip resolves with ``--platform``/``--python-version``, so the answer is the image's, not this
machine's (glibc 2.36 would accept wheels that Amazon Linux's 2.34 or 2.26 refuse).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools.lambda_image import ROOT, ImageSpec, Platform
from devtools.locks import normalized, read_lock

REQUIREMENTS = ROOT / "layers" / "requirements.txt"
# name-version(-build)?-python-abi-platform.whl
WHEEL_RE = re.compile(r"^[^-]+-[^-]+(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$")


def resolve(platform: Platform) -> subprocess.CompletedProcess[str]:
    """``pip install --dry-run`` for ``platform``: what pip in the image would pick, or why not."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check",
         "--ignore-installed", "--report", "-", "-r", str(REQUIREMENTS), *platform.pip_args()],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def pinned() -> dict[str, str]:
    return {name: entry.version for name, entry in read_lock(REQUIREMENTS).items()}


@pytest.fixture(scope="module")
def spec() -> ImageSpec:
    return ImageSpec.read()


def test_tests_run_on_the_image_python(spec: ImageSpec) -> None:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert running == spec.python, "run the tests with `make test`: it picks the image's Python"


def test_base_image_is_al2023_and_offers_both_architectures(spec: ImageSpec) -> None:
    assert spec.glibc >= (2, 28), "the pinned av/numpy/pillow wheels need manylinux_2_28"
    assert spec.architectures[0] == "x86_64" and set(spec.architectures) == {"x86_64", "arm64"}
    assert spec.handler == "handler.app.lambda_handler"


def test_ci_workflow_uses_the_image_python(spec: ImageSpec) -> None:
    workflow = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    assert set(re.findall(r'python-version: "([\d.]+)"', workflow)) == {spec.python}


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_every_pin_has_a_wheel_for_the_image(spec: ImageSpec, arch: str) -> None:
    platform = spec.platform(arch)
    proc = resolve(platform)
    assert proc.returncode == 0, f"the image could not be built for {arch}:\n{proc.stderr[-2000:]}"
    report: dict[str, Any] = json.loads(proc.stdout)
    chosen = {normalized(item["metadata"]["name"]): item for item in report["install"]}
    for name, version in pinned().items():
        assert chosen[name]["metadata"]["version"] == version, name
    accepted = {*platform.wheel_tags(), "any"}
    for name, item in chosen.items():
        wheel = WHEEL_RE.match(Path(item["download_info"]["url"]).name)
        assert wheel is not None, f"{name} is not a wheel"
        assert set(wheel["plat"].split(".")) & accepted, f"{name}: {wheel['plat']} does not run on {platform}"


def test_the_old_amazon_linux_2_image_is_caught() -> None:
    """The check has teeth: the python3.11 image (glibc 2.26) cannot install the pinned av."""
    proc = resolve(Platform("3.11", (2, 26), "x86_64"))
    assert proc.returncode != 0
    assert "av==" in proc.stderr
