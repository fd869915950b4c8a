"""The wheel as users install it: built from the project, installed into a fresh virtual environment
with nothing but its declared dependencies (at the pinned versions), every library module imported
from it, and the command line run. Only the library and its command line are in it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from devtools.locks import LOCKS, read_lock

ROOT = Path(__file__).resolve().parents[2]
IMPORT_ALL = """
import importlib, pkgutil, sys
import avi2mp4
names = sorted(m.name for m in pkgutil.walk_packages(avi2mp4.__path__, "avi2mp4.") if not m.name.endswith("__main__"))
for name in names:
    importlib.import_module(name)
print(avi2mp4.__file__)
print(len(names))
"""


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, check=False, timeout=900)


def test_the_wheel_installs_alone_and_runs(tmp_path: Path) -> None:
    built = run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                "--wheel-dir", tmp_path / "dist", ROOT)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("avi2mp4-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"avi2mp4"}, tops
    metadata = zipfile.ZipFile(wheel).read(next(n for n in zipfile.ZipFile(wheel).namelist()
                                                if n.endswith("entry_points.txt"))).decode()  # fmt: skip
    assert "avi2mp4.commands" not in metadata, "the dev commands' plug-ins are not the wheel's"

    # The locked files (the image's, and tqdm's), hash-checked, in a folder; pip then installs the
    # wheel from that folder alone, so only what the wheel declares gets installed.
    locked = tmp_path / "locked.txt"
    entries = [*read_lock(LOCKS["runtime"]).values(), read_lock(LOCKS["dev"])["tqdm"]]
    locked.write_text("\n".join(line for entry in entries for line in entry.lines) + "\n")
    downloaded = run(sys.executable, "-m", "pip", "download", "--quiet", "--require-hashes", "--only-binary=:all:",
                     "--dest", tmp_path / "wheels", "-r", locked)  # fmt: skip
    assert downloaded.returncode == 0, downloaded.stderr[-3000:]
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv).returncode == 0
    python, cli = venv / "bin" / "python", venv / "bin" / "avi2mp4"
    installed = run(python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", tmp_path / "wheels", wheel)
    assert installed.returncode == 0, installed.stderr[-3000:]

    imported = run(python, "-c", IMPORT_ALL, cwd=tmp_path)  # not the checkout: the installed copy
    assert imported.returncode == 0, imported.stderr[-3000:]
    location, count = imported.stdout.split()
    assert str(venv) in location and int(count) > 40, imported.stdout
    assert run(python, "-c", "import handler", cwd=tmp_path).returncode != 0, "the adapter is not in the wheel"
    helped = run(cli, "convert", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--out" in helped.stdout, helped.stderr
    assert run(cli, "--help", cwd=tmp_path).stderr == ""
