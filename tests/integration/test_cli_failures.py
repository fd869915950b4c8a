"""The CLI when things go wrong: bad settings, an unusable --out, a full disk, SIGTERM and SIGINT.
Each run is a subprocess, as a user runs it; the outputs and the temp folder are checked after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.readback import lavfi_video, make

CLI = [sys.executable, "-m", "avi2mp4"]


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--split-after", "inf"), ("--clip-seconds", "1e-9"), ("--clip-seconds", "nan"), ("--frame-step", "2.5")],
)
def test_out_of_range_settings_are_usage_errors(tmp_path: Path, flag: str, value: str) -> None:
    proc = subprocess.run([*CLI, "convert", str(tmp_path), "--out", str(tmp_path / "o"), flag, value],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert flag in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unwritable_out_is_found_before_any_work(tmp_path: Path) -> None:
    src = make(tmp_path / "a.avi", *lavfi_video(1.0), "-c:v", "mjpeg")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder would be")
    proc = subprocess.run([*CLI, "convert", str(src), "--out", str(blocker / "out")],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 2
    expected = f"avi2mp4: --out {blocker / 'out'}: cannot write there (Not a directory)"
    assert proc.stderr.strip().splitlines() == [expected]


def test_a_full_disk_leaves_no_partial_files(tmp_path: Path) -> None:
    """A real full file system: a 96 KB tmpfs as --out, in a mount namespace of the run's own."""
    src = make(tmp_path / "big.avi", *lavfi_video(4.0, "640x480"), "-c:v", "mjpeg")
    out = tmp_path / "small-disk"
    out.mkdir()
    command = " ".join([*CLI, "convert", str(src), "--out", str(out), "--frame-step", "1"])
    proc = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "sh", "-c",
         f"mount -t tmpfs -o size=96k tmpfs {out} && {command}; code=$?; "
         f"find {out} -type f; exit $code"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "rejected" in proc.stderr and "No space left" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout.strip() == "", f"left on the full disk:\n{proc.stdout}"


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_run_removes_everything_and_says_so(tmp_path: Path, signum: int, code: int) -> None:
    src = make(tmp_path / "long.avi", *lavfi_video(30.0, "640x480"), "-c:v", "mjpeg")
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen([*CLI, "-v", "convert", str(src), "--out", str(out), "--frame-step", "1"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp)})  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # wait until outputs are really being written, then interrupt
        seen.append(line)
        if "stored" in line and len([s for s in seen if "stored" in s]) >= 5:
            proc.send_signal(signum)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == code, rest
    assert f"stopped by {signal.Signals(signum).name}" in rest and "outputs were removed" in rest
    assert "Traceback" not in rest
    assert files(out) == [], "an interrupted run must not leave outputs that look real"
    assert list(tmp.iterdir()) == [], "the work folder must go too"


def test_odd_file_names_get_safe_reversible_output_names(tmp_path: Path) -> None:
    """A non-UTF-8 name (an old camera's card) and ``..avi`` (stem ``.``) convert; their outputs
    stay inside their own folders under names that ``unquote`` turns back into the original."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    latin1 = os.fsdecode(b"cam\xe9ra.avi")  # "caméra" in Latin-1: not UTF-8
    make(inbox / latin1, *lavfi_video(0.5), "-c:v", "mjpeg")
    make(inbox / "..avi", *lavfi_video(0.5), "-c:v", "mjpeg")
    out = tmp_path / "out"

    proc = subprocess.run([*CLI, "convert", str(inbox), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "LC_ALL": "C.UTF-8"})  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "cam\\xe9ra.avi" in proc.stdout
    assert (out / "video-mp4" / "cam%E9ra.mp4").is_file()
    assert (out / "video-mp4" / "%2E.mp4").is_file()
    assert (out / "unlabeled-images" / "%2E" / "%2E_f000000.jpg").is_file()
    assert not list((out / "unlabeled-images").glob(".*")), "nothing hidden in the image root"
    manifest = (out / "video-mp4" / "cam%E9ra.manifest.json").read_text()
    assert '"key": "cam%E9ra.avi"' in manifest


def test_a_planted_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    """Symlinks planted where outputs (and the old fixed-name ``.partial`` files) go: the conversion
    replaces them with its own files and never writes through them."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    src = make(tmp_path / "x.avi", *lavfi_video(0.5), "-c:v", "mjpeg")
    out = tmp_path / "out"
    planted = ["video-mp4/x.mp4.partial", "video-mp4/x.manifest.json.partial", "video-mp4/x.mp4",
               "unlabeled-images/x/x_f000000.jpg.partial", "unlabeled-images/x/x_f000000.jpg"]  # fmt: skip
    for name in planted:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).symlink_to(victim)

    proc = subprocess.run([*CLI, "convert", str(src), "--out", str(out)], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "precious"
    for name in ("video-mp4/x.mp4", "unlabeled-images/x/x_f000000.jpg", "video-mp4/x.manifest.json"):
        assert (out / name).is_file() and not (out / name).is_symlink(), name


def test_names_are_printed_quoted(tmp_path: Path) -> None:
    """A file name carrying a terminal escape sequence (or a newline) is printed with it escaped."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    make(inbox / "red\x1b[31malert\nok fake.avi", *lavfi_video(0.5), "-c:v", "mjpeg")
    (inbox / "bad\x1b]0;title\x07.avi").write_bytes(b"RIFF")

    proc = subprocess.run([*CLI, "convert", str(inbox), "--out", str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip

    assert proc.returncode == 1
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stderr
    (ok,) = proc.stdout.splitlines()
    assert ok.startswith("ok ") and "red\\x1b[31malert\\nok fake.avi" in ok
    assert "bad\\x1b]0;title\\x07.avi" in proc.stderr
