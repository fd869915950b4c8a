"""Nothing mixed, nothing lost: two sources never share outputs, and after any run a video's
prefix holds exactly what its manifest lists (locally here; in S3 in test_lambda_rejections)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.readback import lavfi_video, make

CLI = [sys.executable, "-m", "avi2mp4"]


def convert(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "convert", *map(str, args)], capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip


def outputs(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def listed(manifest: Path, out: Path) -> set[str]:
    data = json.loads(manifest.read_text())
    rows = [*data["clips"], *data["frames"], *data["review_sheets"], *data["labeling_tools"].values()]
    return {Path(r["location"]).relative_to(out).as_posix() for r in rows} | {manifest.relative_to(out).as_posix()}


def test_same_named_sources_never_share_outputs(tmp_path: Path) -> None:
    (tmp_path / "card1").mkdir()
    (tmp_path / "card2").mkdir()
    first = make(tmp_path / "card1" / "MOVI0001.AVI", *lavfi_video(1.0), "-c:v", "mjpeg")
    second = make(tmp_path / "card2" / "MOVI0001.AVI", *lavfi_video(2.0, src="testsrc"), "-c:v", "mjpeg")
    out = tmp_path / "out"

    proc = convert(first, second, "--out", out)

    assert proc.returncode == 1
    assert proc.stdout.count("\nok ") + proc.stdout.startswith("ok ") == 1
    (rejected,) = [line for line in proc.stderr.splitlines() if line.startswith("rejected ")]
    assert rejected.startswith(f"rejected {second}: OutputConflict:") and str(first) in rejected
    manifest = json.loads((out / "video-mp4" / "MOVI0001.manifest.json").read_text())
    assert manifest["source"]["frames_decoded"] == 25, "the first camera's outputs, untouched"
    assert len(list((out / "unlabeled-images" / "MOVI0001").glob("*.jpg"))) == 3


def test_extension_case_twins_in_a_folder_and_across_runs(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    make(inbox / "rec.avi", *lavfi_video(1.0), "-c:v", "mjpeg")
    out = tmp_path / "out"
    assert convert(inbox, "--out", out).returncode == 0
    make(inbox / "rec.AVI", *lavfi_video(2.0), "-c:v", "mjpeg")

    batch = convert(inbox / "rec.AVI", "--out", out)  # a later run, the other casing

    assert batch.returncode == 1 and "OutputConflict" in batch.stderr and "rec.avi" in batch.stderr
    assert json.loads((out / "video-mp4" / "rec.manifest.json").read_text())["source"]["key"] == "rec.avi"


def test_a_rerun_leaves_exactly_what_its_manifest_lists(tmp_path: Path) -> None:
    src = make(tmp_path / "rec.avi", *lavfi_video(5.0), "-c:v", "mjpeg")
    out = tmp_path / "out"
    manifest = out / "video-mp4" / "rec.manifest.json"
    first = convert(src, "--out", out, "--clip-seconds", "1", "--split-after", "2", "--frame-step", "2")
    assert first.returncode == 0, first.stderr
    assert (out / "video-mp4" / "rec_part004.mp4").is_file()
    assert len(outputs(out)) == 5 + 63 + 5 + 1 + 2  # clips, JPEGs, a review page per clip, the manifest, tool files

    again = convert(src, "--out", out, "--frame-step", "25")  # whole, 5 JPEGs

    assert again.returncode == 0, again.stderr
    assert outputs(out) == listed(manifest, out)
    assert len(outputs(out)) == 1 + 5 + 1 + 1 + 2  # the video, JPEGs, one review page, the manifest, tool files


def test_an_interrupted_rerun_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    src = make(tmp_path / "rec.avi", *lavfi_video(30.0, "640x480"), "-c:v", "mjpeg")
    out = tmp_path / "out"
    assert convert(src, "--out", out, "--frame-step", "50").returncode == 0
    proc = subprocess.Popen([*CLI, "-v", "convert", str(src), "--out", str(out), "--frame-step", "1"],
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))  # fmt: skip
    assert proc.stderr is not None
    stored = 0
    for line in proc.stderr:
        stored += "stored" in line
        if stored >= 5:
            proc.send_signal(signal.SIGTERM)
            break
    proc.stderr.read()
    assert proc.wait(timeout=120) == 143
    assert outputs(out) == set(), "neither a manifest over half-replaced files nor orphans"


def claim_for(out: Path, stem: str, key: str, expires_at: float) -> Path:
    path = out / "video-mp4" / f"{stem}.claim.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"source": {"bucket": None, "key": key}, "expires_at": expires_at}))
    return path


def test_a_source_being_converted_holds_its_names(tmp_path: Path) -> None:
    """rec.avi and rec.AVI converted at the same time: the second waits for nothing, it is refused."""
    src = make(tmp_path / "rec.avi", *lavfi_video(1.0), "-c:v", "mjpeg")
    out = tmp_path / "out"
    held = claim_for(out, "rec", "rec.AVI", time.time() + 600)  # another source's run in progress

    refused = convert(src, "--out", out)

    assert refused.returncode == 1 and "OutputConflict" in refused.stderr and "being converted" in refused.stderr
    assert outputs(out) == {"video-mp4/rec.claim.json"} and held.exists(), "nothing written, its claim kept"

    claim_for(out, "rec", "rec.AVI", time.time() - 1)  # that run was killed long ago: expired
    taken_over = convert(src, "--out", out)

    assert taken_over.returncode == 0, taken_over.stderr
    assert outputs(out) == listed(out / "video-mp4" / "rec.manifest.json", out), "the claim is given back"


def test_a_claim_left_by_the_same_source_is_taken_over(tmp_path: Path) -> None:
    src = make(tmp_path / "rec.avi", *lavfi_video(1.0), "-c:v", "mjpeg")
    out = tmp_path / "out"
    claim_for(out, "rec", "rec.avi", time.time() + 600)  # its own earlier attempt, killed

    assert convert(src, "--out", out).returncode == 0
    assert "video-mp4/rec.claim.json" not in outputs(out)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_source_named_like_anothers_clip_keeps_to_its_own_names(tmp_path: Path) -> None:
    """``rec_part000.avi``'s whole video used to be written over ``rec.avi``'s first clip."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    make(inbox / "rec.avi", *lavfi_video(3.0), "-c:v", "mjpeg")  # split: rec_part000.mp4 .. rec_part002.mp4
    make(inbox / "rec_part000.avi", *lavfi_video(1.0, src="testsrc"), "-c:v", "mjpeg")
    out = tmp_path / "out"

    for order in ([inbox / "rec.avi", inbox / "rec_part000.avi"], [inbox / "rec_part000.avi", inbox / "rec.avi"]):
        proc = convert(*order, "--out", out, "--clip-seconds", "1", "--split-after", "2", "--force")
        assert proc.returncode == 0 and proc.stdout.count("ok ") == 2, proc.stderr

        video = out / "video-mp4"
        rec = json.loads((video / "rec.manifest.json").read_text())
        assert [c["key"] for c in rec["clips"]] == ["rec_part000.mp4", "rec_part001.mp4", "rec_part002.mp4"]
        assert all(_sha256(video / c["key"]) == c["sha256"] for c in rec["clips"]), "rec's clips are rec's"
        other = json.loads((video / "rec%5Fpart000.manifest.json").read_text())
        assert [c["key"] for c in other["clips"]] == ["rec%5Fpart000.mp4"]
        assert _sha256(video / "rec%5Fpart000.mp4") == other["clips"][0]["sha256"]
        assert outputs(out) == listed(video / "rec.manifest.json", out) | listed(
            video / "rec%5Fpart000.manifest.json", out)  # fmt: skip


def test_a_percent_name_and_a_raw_byte_name_keep_apart(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    make(inbox / "%FF.avi", *lavfi_video(1.0), "-c:v", "mjpeg")
    raw = Path(os.fsdecode(bytes(inbox) + b"/\xff.avi"))
    make(raw, *lavfi_video(2.0, src="testsrc"), "-c:v", "mjpeg")
    out = tmp_path / "out"

    proc = convert(inbox, "--out", out)

    assert proc.returncode == 0 and proc.stdout.count("ok ") == 2, proc.stderr
    video = out / "video-mp4"
    assert json.loads((video / "%25FF.manifest.json").read_text())["source"]["frames_decoded"] == 25
    assert json.loads((video / "%FF.manifest.json").read_text())["source"]["frames_decoded"] == 50
