"""The installed ``avi2mp4`` command, run as a user runs it (a subprocess, no terminal)."""

from __future__ import annotations

import json
import re
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
    assert re.fullmatch(r"2 converted, 2 rejected, 0 failed in \d+ s", proc.stderr.splitlines()[-1]), proc.stderr
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
    assert sorted(Path(summary["jpeg_folder"]).glob("*.jpg")) == sorted(Path(f["location"]) for f in manifest["frames"])


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


def test_what_is_already_converted_is_skipped_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    src = make(tmp_path / "in" / "a.avi", *lavfi_video(1.0), "-c:v", "mjpeg")
    make(tmp_path / "in" / "b.avi", *lavfi_video(0.5), "-c:v", "mjpeg")
    out = tmp_path / "out"
    assert run("convert", tmp_path / "in", "--out", out).returncode == 0
    clip = out / "video-mp4" / "a.mp4"
    first = clip.stat().st_mtime_ns

    again = run("convert", tmp_path / "in", "--out", out)

    assert again.returncode == 0, again.stderr
    assert [line.split(":")[0] for line in again.stdout.splitlines()] == [f"skipped {tmp_path}/in/a.avi",
                                                                           f"skipped {tmp_path}/in/b.avi"]  # fmt: skip
    assert "--force" in again.stdout and clip.stat().st_mtime_ns == first
    assert re.fullmatch(r"0 converted, 0 rejected, 0 failed, 2 skipped \(already converted\) in \d+ s",
                        again.stderr.splitlines()[-1]), again.stderr  # fmt: skip
    # Another setting, a changed file, a missing output, or --force: converted again.
    assert run("convert", src, "--out", out, "--frame-step", "5").stdout.startswith("ok ")
    assert run("convert", src, "--out", out, "--frame-step", "5").stdout.startswith("skipped ")
    make(src, *lavfi_video(1.2), "-c:v", "mjpeg")
    assert run("convert", src, "--out", out, "--frame-step", "5").stdout.startswith("ok ")
    next((out / "unlabeled-images" / "a").glob("*.jpg")).unlink()
    assert run("convert", src, "--out", out, "--frame-step", "5").stdout.startswith("ok ")
    assert run("convert", src, "--out", out, "--frame-step", "5", "--force").stdout.startswith("ok ")


def test_warnings_are_spelled_out_on_the_result(tmp_path: Path) -> None:
    src = make(tmp_path / "cam.avi", *lavfi_video(1.0), "-f", "lavfi", "-i", "sine=sample_rate=11024:duration=1",
               "-c:v", "mjpeg", "-c:a", "pcm_s16le")  # fmt: skip

    proc = run("convert", src, "--out", tmp_path / "out")

    assert proc.returncode == 0, proc.stderr
    first, *rest = proc.stdout.splitlines()
    assert " warnings=1 " in first
    assert rest == ["  warning: audio resampled from 11024 Hz to 11025 Hz, the nearest rate AAC carries"]
