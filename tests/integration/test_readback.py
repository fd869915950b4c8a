"""The independent read-back: a clip that decodes into the frames written passes; a damaged one,
one with frames missing, or one whose stored packets are not the ones encoded stops the job
before the source could be deleted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from av.packet import Packet

from avi2mp4.errors import VerificationError
from avi2mp4.media.readback import FileReadBack, LiveReadBack, Pictures, read_back
from devtools.readback import lavfi_video, make

FRAMES = 60


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


def _is_reference(data: bytes) -> bool:
    """nal_ref_idc of the packet's first slice (Annex B)."""
    for unit in data.split(b"\x00\x00\x01")[1:]:
        if unit[0] & 0x1F in (1, 5):
            return bool(unit[0] & 0x60)
    raise AssertionError("no slice in the packet")


def _encode(path: Path, pictures: Pictures, damage: int | None = None) -> tuple[LiveReadBack, list[bytes]]:
    """A clip as ClipWriter writes one: x264 with B-frames (some of them references) and several
    slices per picture; every packet fed to a LiveReadBack, then muxed. ``damage``: the live
    decoder is fed that packet cut short."""
    packets: list[bytes] = []
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"preset": "veryfast", "bframes": "3", "b-pyramid": "normal", "slices": "3"}
        live: LiveReadBack | None = None
        rng = np.random.default_rng(7)
        base = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)

        def mux(encoded: list[Packet[Any]]) -> None:
            nonlocal live
            for packet in encoded:
                live = live or LiveReadBack(path.parent, path.stem, stream, pictures)
                data = bytes(packet)
                packets.append(data)
                fed = packet
                if len(packets) - 1 == damage:
                    # Cut short. (Scrambled or zeroed slice data decodes without a word from
                    # FFmpeg: CABAC turns any bits into some picture. Only checksums see that.)
                    fed = Packet(data[: len(data) // 2])
                    fed.pts, fed.dts, fed.time_base = packet.pts, packet.dts, packet.time_base
                live.feed(fed)
                out.mux(packet)

        for i in range(FRAMES):
            picture = np.roll(base, 4 * i, axis=1)
            mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        mux(stream.encode(None))
    assert live is not None
    return live, packets


@pytest.mark.parametrize("pictures", ["keyframes", "reference", "all"])
def test_the_packets_as_stored_are_the_packets_encoded(tmp_path: Path, pictures: Pictures) -> None:
    clip = tmp_path / "clip.mp4"
    live, packets = _encode(clip, pictures)
    live.finish(FRAMES)
    assert len(live.packet_md5) == FRAMES

    read_back(clip, FRAMES, live.packet_md5)  # the MP4 muxer's form of every packet, checksummed

    with pytest.raises(VerificationError, match="read back 60 frames, wrote 61"):
        read_back(clip, FRAMES + 1, live.packet_md5)
    # A changed byte in a picture that nothing decodes (a non-reference B picture, not a
    # keyframe) is still found: its checksum differs.
    target = next(i for i, p in enumerate(packets) if not _is_reference(p))
    data = bytearray(clip.read_bytes())
    last_unit = packets[target].split(b"\x00\x00\x01")[-1]
    at = data.find(last_unit)
    assert at > 0 and len(last_unit) > 4
    data[at + len(last_unit) // 2] ^= 0x55
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match=f"video packet {target} as stored is not the one encoded"):
        read_back(damaged, FRAMES, live.packet_md5)


@pytest.mark.parametrize("pictures", ["reference", "all"])
def test_the_live_decoder_finds_damage_in_a_reference_picture(tmp_path: Path, pictures: Pictures) -> None:
    _, packets = _encode(tmp_path / "probe.mp4", "keyframes")
    target = max((i for i, p in enumerate(packets) if i > 0 and _is_reference(p)), key=lambda i: len(packets[i]))

    live, _ = _encode(tmp_path / "clip.mp4", pictures, damage=target)

    with pytest.raises(VerificationError, match="independent decoder reports"):
        live.finish(FRAMES)
    assert not list(tmp_path.glob("*.readback-*")), "its work files are removed"


def test_the_live_decoder_counts_every_picture_when_it_decodes_all(tmp_path: Path) -> None:
    live, _ = _encode(tmp_path / "clip.mp4", "all")
    with pytest.raises(VerificationError, match="decoded 60 frames, wrote 61"):
        live.finish(FRAMES + 1)


def test_the_file_is_read_as_handed_over_even_if_the_store_moves_it(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    live, _ = _encode(clip, "keyframes")
    live.finish(FRAMES)

    reading = FileReadBack(clip, FRAMES, live.packet_md5)
    clip.rename(tmp_path / "moved.mp4")
    (tmp_path / "moved.mp4").unlink()
    reading.wait()


def test_a_conversion_reads_its_clips_back_at_every_level(tmp_path: Path) -> None:
    """Split into clips (each read back on its own) and a short video joined from segments (its checksums
    carried across the join)."""
    src = make(tmp_path / "x.avi", *lavfi_video(3.0), "-c:v", "mjpeg")
    for pictures in ("keyframes", "reference", "all"):
        for split in ("2", "10"):
            out = tmp_path / f"out-{pictures}-{split}"
            proc = subprocess.run(
                [sys.executable, "-m", "avi2mp4", "convert", src, "--out", out, "--clip-seconds", "1",
                 "--split-after", split, "--verify-pictures", pictures, "--preset", "ultrafast", "--json"],
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert len(list((out / "video-mp4").glob("*.mp4"))) == (3 if split == "2" else 1)


def test_a_missing_file_is_a_verification_error(tmp_path: Path) -> None:
    reading = FileReadBack(tmp_path / "gone.mp4", FRAMES, [])
    with pytest.raises(VerificationError, match=r"gone\.mp4: the independent decoder could not run"):
        reading.wait()


def test_a_full_backlog_makes_the_encoder_wait_not_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``BACKLOG_BYTES`` queued for the decoder, ``feed`` waits for it to catch up."""
    monkeypatch.setattr(LiveReadBack, "BACKLOG_BYTES", 1)
    live, _ = _encode(tmp_path / "clip.mp4", "all")
    live.finish(FRAMES)
