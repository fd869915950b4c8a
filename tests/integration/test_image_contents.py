"""The Lambda image's task folder, run the way Lambda runs it.

``devtools.lambda_image.build_task_root`` lays the folder out step by step from the Dockerfile
(COPY filtered by .dockerignore, the requirements resolved for the image's Python, glibc and
architecture, compileall). The handler then runs from it on an interpreter that sees only that
folder and the standard library (no site-packages, so no dev dependency can hide a missing runtime
one), against the local S3 over HTTP, and as Lambda runs a function:

- a non-root user (``nobody``), no ``HOME``;
- a read-only file system except ``/tmp`` (a private, empty folder mounted over ``/tmp`` in a
  mount namespace of its own, so nothing on this machine changes);
- afterwards the task folder is byte-for-byte as built (no ``__pycache__``, caches or logs beside
  the code, checked with the folder writable too, so that a write that would fail is still seen)
  and ``/tmp`` is empty (no temp files of PyAV, numpy or Pillow left behind).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.local_aws import LocalAws
from devtools.readback import lavfi_audio, lavfi_video, make
from tests.integration.stack import make_stack

NOBODY = 65534
MOUNT = Path("/srv")  # an existing, empty folder; the namespace's own mounts cover it
RUN_HANDLER = """
import json, sys, uuid
sys.path.insert(0, sys.argv[1])
from handler.app import lambda_handler

class Context:
    function_name = "avi2mp4"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:avi2mp4"
    aws_request_id = str(uuid.uuid4())
    def get_remaining_time_in_millis(self):
        return 900_000

result = lambda_handler(json.loads(sys.argv[2]), Context())
leaked = sorted(m for m in sys.modules if m.split(".")[0] in {"moto", "pytest", "devtools"})
import avi2mp4, os
code = sorted(m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)
              and m.__name__.split(".")[0] in {"avi2mp4", "handler"})
print(json.dumps({"result": result, "leaked": leaked, "avi2mp4": avi2mp4.__file__, "uid": os.getuid(),
                  "code": code}))
"""


@dataclass
class Sandbox:
    """A folder of ours: ``task/`` (the task root), ``tmp/`` (Lambda's /tmp), ``python/``."""

    base: Path

    @property
    def task(self) -> Path:
        return self.base / "task"

    @property
    def tmp(self) -> Path:
        return self.base / "tmp"


@pytest.fixture
def sandbox(built_task_root: Path) -> Iterator[Sandbox]:
    box = Sandbox(Path(tempfile.mkdtemp(prefix="avi2mp4-image-run-")))
    box.base.chmod(0o755)
    shutil.copytree(built_task_root, box.task, symlinks=True)
    box.tmp.mkdir()
    (box.base / "python").mkdir()
    if os.geteuid() == 0:
        os.chown(box.tmp, NOBODY, NOBODY)
    try:
        yield box
    finally:
        if os.geteuid() != 0:
            subprocess.run(["chmod", "-R", "u+w", str(box.base)], check=False)
        shutil.rmtree(box.base, ignore_errors=True)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path below ``folder`` with its size and mtime: any write shows up as a difference."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


def lambda_command(box: Sandbox, env: dict[str, str], argv: list[str], code_writable: bool) -> list[str]:
    """The command that runs ``argv`` (a Python invocation) as Lambda would run the function."""
    assignments = [f"{k}={v}" for k, v in env.items()]
    if os.geteuid() != 0:  # a developer's run: non-root already; no mounts, so chmod the code
        if not code_writable:
            subprocess.run(["chmod", "-R", "a-w", str(box.task)], check=True)
        return ["env", "-i", *assignments, *argv]
    if code_writable:
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(box.task)], check=True)
    inner = " ".join(shlex.quote(a) for a in ["env", "-i", *assignments, *argv])
    ro_task = "" if code_writable else f"mount -o remount,bind,ro {MOUNT}/task; "
    script = (
        "set -e; mount --make-rprivate /; "
        f"mount --bind {box.base} {MOUNT}; "
        f"mount --bind {shlex.quote(sys.base_prefix)} {MOUNT}/python; "
        f"mount --bind {MOUNT}/tmp /tmp; "
        "mount -o remount,bind,ro /; "
        f"mount --bind {MOUNT}/task {MOUNT}/task; mount -o remount,bind,ro {MOUNT}; {ro_task}"
        f"exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups {inner}"
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


@pytest.mark.parametrize("code_writable", [False, True], ids=["read-only", "writable-but-untouched"])
def test_handler_runs_as_lambda_runs_it(sandbox: Sandbox, aws: LocalAws, tmp_path: Path, code_writable: bool) -> None:
    stack = make_stack(aws, tmp_path)
    src = make(tmp_path / "cam.avi", *lavfi_video(1.0), *lavfi_audio(1.0), "-c:v", "mjpeg", "-c:a", "adpcm_ms")
    event = stack.upload(src, "cam.avi", "ObjectCreated:CompleteMultipartUpload")
    s = stack.settings
    root = os.geteuid() == 0
    task = MOUNT / "task" if root else sandbox.task
    # The base install (the venv's python is a symlink into it), seen where `nobody` can reach it.
    base = MOUNT / "python" if root else Path(sys.base_prefix)
    python = base / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task),
        "LD_LIBRARY_PATH": f"{base}/lib:{task}:{task}/lib",  # Lambda's: runtime lib, then the task root
        **aws.env,
        "VIDEO_BUCKET": s.video_bucket,
        "IMAGE_BUCKET": s.image_bucket,
        "IDEMPOTENCY_TABLE": s.idempotency_table,
    }  # no HOME, as in Lambda; TMP_DIR defaults to /tmp, which is the private folder
    if not root:
        env |= {"TMP_DIR": str(sandbox.tmp), "TMPDIR": str(sandbox.tmp)}
    before = snapshot(sandbox.task)
    argv = [str(python), "-I", "-S", "-c", RUN_HANDLER, str(task), json.dumps(event)]

    proc = subprocess.run(lambda_command(sandbox, env, argv, code_writable),
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip

    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["uid"] != 0
    assert report["leaked"] == []
    assert report["avi2mp4"].startswith(str(task))
    shipped = sorted(str(task / p.relative_to(sandbox.task)) for d in ("avi2mp4", "handler")
                     for p in (sandbox.task / d).rglob("*.py"))  # fmt: skip
    assert report["code"] == shipped, "the image holds exactly the code the function runs"
    (done,) = report["result"]["done"]
    assert done["status"] == "converted" and done["source_deleted"]
    assert stack.keys(s.video_bucket) == ["cam.manifest.json", "cam.mp4", "cam.review.jpg"]
    assert snapshot(sandbox.task) == before, "something wrote beside the code"
    assert list(sandbox.tmp.iterdir()) == [], "left behind in /tmp"
    assert "Read-only file system" not in proc.stderr
