"""The requirement locks (``make lock``): what each ``.in`` file chooses and what its ``.txt`` lock
resolved, with the SHA-256 of every file. Read by the tests that keep the two in step."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "runtime": ROOT / "layers" / "requirements.txt",
    "dev": ROOT / "requirements-dev.txt",
    "sam": ROOT / "requirements-sam.txt",
    "checkov": ROOT / "requirements-checkov.txt",
    "labelstudio": ROOT / "requirements-labelstudio.txt",
}
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;\\]+)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Locked:
    name: str
    version: str
    lines: tuple[str, ...]
    """The requirement as the lock writes it: its line and its ``--hash`` lines."""

    @property
    def hashes(self) -> list[str]:
        return [h for line in self.lines for h in re.findall(r"--hash=(sha256:[0-9a-f]{64})", line)]


def read_lock(path: Path) -> dict[str, Locked]:
    """``name -> Locked`` (names normalized); a name locked under two markers keeps the last."""
    found: dict[str, Locked] = {}
    name, version, lines = "", "", list[str]()
    for line in [*path.read_text().splitlines(), ""]:
        pin = _PIN.match(line)
        if pin or not line.startswith(" "):
            if name:
                found[name] = Locked(name, version, tuple(lines))
            name, version, lines = "", "", []
        if pin:
            name, version, lines = normalized(pin["name"]), pin["version"], [line]
        elif name and line.strip().startswith("--hash"):
            lines.append(line)
    return found


def chosen(path: Path) -> dict[str, str]:
    """``name -> version`` pinned in an ``.in`` file, following its ``-r`` includes."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if line.startswith("-r "):
            pins.update(chosen(path.parent / line[3:].strip()))
        elif pin := _PIN.match(line):
            pins[normalized(pin["name"])] = pin["version"]
    return pins
