"""The Lambda image's contents are complete: its requirements alone run the handler.

The Dockerfile installs layers/requirements.txt into the task root and copies layers/avi2mp4 and
handler/ beside it. This test does the same into an empty folder and runs the handler from an
interpreter that sees only that folder, the code and the standard library (no site-packages, so
no dev dependency can hide a missing runtime one), against the local S3 over HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from handler.local import LocalAws
from tests.integration.conftest import make_stack
from tests.media import lavfi_audio, lavfi_video, make

ROOT = Path(__file__).resolve().parents[2]

RUN_HANDLER = """
import json, sys
sys.path[:0] = sys.argv[1:4]
from handler.app import lambda_handler
from handler.local import local_context
event = json.loads(sys.argv[4])
result = lambda_handler(event, local_context())
leaked = sorted(m for m in sys.modules if m.split(".")[0] in {"moto", "pytest", "imageio_ffmpeg"})
import avi2mp4
print(json.dumps({"result": result, "leaked": leaked, "avi2mp4": avi2mp4.__file__}))
"""


@pytest.fixture(scope="module")
def task_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("task-root")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--only-binary=:all:", "-r", str(ROOT / "layers" / "requirements.txt"), "--target", str(target)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return target


def test_handler_runs_from_requirements_alone(task_root: Path, aws: LocalAws, tmp_path: Path) -> None:
    stack = make_stack(aws, tmp_path)
    src = make(tmp_path / "cam.avi", *lavfi_video(1.0), *lavfi_audio(1.0), "-c:v", "mjpeg", "-c:a", "adpcm_ms")
    event = stack.upload(src, "cam.avi", "ObjectCreated:CompleteMultipartUpload")
    s = stack.settings
    env = {"PATH": os.environ["PATH"], **aws.env, "VIDEO_BUCKET": s.video_bucket,
           "IMAGE_BUCKET": s.image_bucket, "IDEMPOTENCY_TABLE": s.idempotency_table,
           "TMP_DIR": str(s.tmp_dir)}  # fmt: skip

    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUN_HANDLER, str(task_root), str(ROOT / "layers"), str(ROOT),
         json.dumps(event)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["leaked"] == []
    assert report["avi2mp4"].startswith(str(ROOT / "layers"))
    (done,) = report["result"]["done"]
    assert done["status"] == "converted" and done["source_deleted"]
    assert stack.keys(s.video_bucket) == ["cam.manifest.json", "cam.mp4"]
