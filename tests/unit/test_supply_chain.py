"""What CI and the image install is what was chosen and locked: each lock holds its ``.in`` file's
pins, every locked file has a SHA-256 and every install checks it, the dev tools share the image's
versions, and the deploy job's actions are pinned by commit, not by a tag that can move."""

from __future__ import annotations

import re

import pytest

from devtools.locks import LOCKS, ROOT, chosen, read_lock

SOURCES = {name: lock.with_suffix(".in") for name, lock in LOCKS.items()}
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_each_lock_holds_what_its_in_file_chooses_with_hashes(name: str) -> None:
    locked = read_lock(LOCKS[name])
    for package, version in chosen(SOURCES[name]).items():
        assert package in locked, f"{package} is chosen in {SOURCES[name].name} but not locked: run make lock"
        assert locked[package].version == version, f"{package}: {SOURCES[name].name} says {version}, the lock "\
                                                   f"{locked[package].version}: run make lock"  # fmt: skip
    unhashed = [p for p, entry in locked.items() if not entry.hashes]
    assert not unhashed, f"locked without a hash: {unhashed}"


def test_the_dev_tools_run_the_image_versions() -> None:
    runtime, dev = read_lock(LOCKS["runtime"]), read_lock(LOCKS["dev"])
    assert {p: e.version for p, e in runtime.items()} == {p: dev[p].version for p in runtime}


def test_every_install_checks_the_hashes() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    (install,) = re.findall(r"RUN pip install [^\n]*", dockerfile)
    assert "--require-hashes" in install and "requirements.txt" in install
    makefile = (ROOT / "Makefile").read_text()
    installs = re.findall(r"pip install [^\n]*", makefile)
    assert len(installs) == 5, installs
    for line in installs:
        hashed = "--require-hashes --no-deps -r requirements-" in line
        assert hashed or "--no-deps --no-build-isolation -e ." in line, line


def test_the_workflow_pins_actions_by_commit_and_sam_by_lock() -> None:
    workflow = WORKFLOW.read_text()
    uses = re.findall(r"uses:\s*(\S+)", workflow)
    assert uses, "no actions found"
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{action}: pin it by commit SHA"
    assert "setup-sam" not in workflow, "SAM CLI comes from requirements-sam.txt (hashed), not a downloader"
    assert "make .tools/sam/bin/sam" in workflow
    # With `environment: prod` the OIDC subject names the environment; the comment must say so.
    assert "environment: prod" in workflow and "environment:prod" in workflow
    assert "repo:<owner>/<repo>:environment:prod" in (ROOT / "README.md").read_text()
