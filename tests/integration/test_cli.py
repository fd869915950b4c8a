"""The installed ``avi2mp4`` command, run as a user runs it (a subprocess, no terminal)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devtools.readback import lavfi_video, make
from tests.avi_traps import html_named_avi, zero_bytes

CLI = [sys.executable, "-m", "avi2mp4"]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300, check=False)


def test_folder_batch_keeps_going_past_bad_files(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "site 1").mkdir(parents=True)
    make(inbox / "site 1" / "cam A.AVI", *lavfi_video(1.0), "-c:v", "mjpeg")
    make(inbox / "b.avi", *lavfi_video(0.5), "-c:v", "mjpeg")
    html_named_avi(inbox)
    zero_bytes(inbox)
    (inbox / "notes.txt").write_text("not a video")
    out = tmp_path / "out"

    proc = run("convert", inbox, "--out", out)

    assert proc.returncode == 1, proc.stderr
    ok = [line for line in proc.stdout.splitlines() if line.startswith("ok ")]
    assert len(ok) == 2 and "clips=1" in ok[0] and "frames=" in ok[0]
    rejected = [line for line in proc.stderr.splitlines() if line.startswith("rejected ")]
    assert len(rejected) == 2
    assert any("EmptyFile" in r and "empty.avi" in r for r in rejected)
    assert any("UnreadableVideo" in r and "download.avi" in r for r in rejected)
    assert "\r" not in proc.stderr, "no progress bar when stderr is not a terminal"
    assert (out / "video-mp4" / "site 1" / "cam A.mp4").is_file()
    assert (out / "video-mp4" / "site 1" / "cam A.manifest.json").is_file()
    assert (out / "unlabeled-images" / "site 1" / "cam A" / "cam A_f000020.jpg").is_file()
    assert not list(out.rglob("download*")) and not list(out.rglob("empty*"))
    assert not list(out.rglob("*.partial"))


def test_json_output_and_options(tmp_path: Path) -> None:
    src = make(tmp_path / "x.avi", *lavfi_video(3.0), "-c:v", "mjpeg")

    proc = run("convert", src, "--out", tmp_path / "out", "--json", "--clip-seconds", "1",
               "--split-after", "2", "--frame-step", "25", "--no-dead-filter", "--crf", "30",
               "--preset", "ultrafast")  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    (summary,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert summary["status"] == "ok" and summary["clips"] == 3 and summary["jpegs"] == 3
    manifest = json.loads(Path(summary["manifest"]).read_text())
    assert manifest["settings"]["x264_crf"] == 30 and manifest["settings"]["frame_step"] == 25
    assert summary["clip_paths"] == [c["location"] for c in manifest["clips"]]
    assert all(Path(p).is_file() for p in summary["clip_paths"])
    assert sorted(Path(summary["jpeg_folder"]).iterdir()) == sorted(Path(f["location"]) for f in manifest["frames"])


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("convert", "--out", tmp_path).returncode == 2
    bad = run("convert", tmp_path, "--out", tmp_path / "o", "--frame-step", "0")
    assert bad.returncode == 2 and "frame_step" in bad.stderr
    threshold = run("convert", tmp_path, "--out", tmp_path / "o", "--dead-threshold", "black_share=2")
    assert threshold.returncode == 2 and "black_share" in threshold.stderr
    unknown = run("convert", tmp_path, "--out", tmp_path / "o", "--dead-threshold", "sharpness=1")
    assert unknown.returncode == 2 and "NAME must be one of" in unknown.stderr


def test_missing_input_is_reported_and_others_still_run(tmp_path: Path) -> None:
    src = make(tmp_path / "ok.avi", *lavfi_video(0.4), "-c:v", "mjpeg")
    proc = run("convert", tmp_path / "nope.avi", src, "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert "nope.avi" in proc.stderr and "no such file" in proc.stderr
    assert (tmp_path / "out" / "video-mp4" / "ok.mp4").is_file()


def test_core_never_imports_boto3() -> None:
    code = (
        "import sys, avi2mp4.pipeline, avi2mp4.conversion.one_pass, avi2mp4.conversion.owner, avi2mp4.cli.main,"
        " avi2mp4.storage.local, avi2mp4.outputs.manifest;"
        "aws = {'boto3', 'botocore', 'aws_lambda_powertools'};"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in aws);"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"the media core pulled in AWS modules: {proc.stdout}{proc.stderr}"
