"""The independent read-back: a clip that decodes into the frames written passes; a damaged one,
or one with frames missing, stops the job before the source could be deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from avi2mp4.errors import VerificationError
from avi2mp4.media.readback import read_back
from devtools.readback import lavfi_video, make


def test_read_back_counts_frames_and_finds_damage(tmp_path: Path) -> None:
    clip = make(tmp_path / "c.mp4", *lavfi_video(2.0), "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p")
    read_back(clip, 50)
    with pytest.raises(VerificationError, match="read back 50 frames, wrote 51"):
        read_back(clip, 51)
    data = bytearray(clip.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 200 : mdat + 6000] = bytes(5800)  # zeroed slices, as a bad disk or transfer leaves them
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match="independent decoder reports"):
        read_back(damaged, 50)
