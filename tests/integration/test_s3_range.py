"""Groundwork of the parallel path: PyAV reads an AVI in S3 through ranged GETs, the header and
index without downloading the recording, and a seek into the middle reads about what it decodes."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
from av.video.frame import VideoFrame

from avi2mp4.storage.s3_range import S3RangeFile
from devtools.local_aws import LocalAws
from devtools.readback import lavfi_video, make

KiB = 1024


def frames_from(source: str | S3RangeFile, start_seconds: float, count: int) -> list[np.ndarray]:
    with av.open(source, "r") as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        container.seek(round(start_seconds / stream.time_base), stream=stream)
        out = []
        for frame in container.decode(stream):
            assert isinstance(frame, VideoFrame)
            out.append(frame.to_ndarray(format="gray"))
            if len(out) == count:
                return out
    return out


def test_header_index_and_a_seek_read_a_small_part(aws: LocalAws, tmp_path: Path) -> None:
    src = make(tmp_path / "long.avi", *lavfi_video(40.0, "640x480"), "-c:v", "mjpeg", "-q:v", "3")
    size = src.stat().st_size
    s3 = aws.s3()
    aws.create_bucket("ranged")
    s3.upload_file(str(src), "ranged", "cams/long.avi")

    remote = S3RangeFile(s3, "ranged", "cams/long.avi", block=256 * KiB)
    with av.open(remote) as container:  # header + idx1 (at the end): the frame count without the body
        assert container.streams.video[0].frames == 1000
    opened = remote.bytes_fetched
    assert opened <= 3 * 256 * KiB < size / 10, (opened, size)

    clip = S3RangeFile(s3, "ranged", "cams/long.avi", block=256 * KiB, size=size)  # one file object per open
    remote_frames = frames_from(clip, 30.0, 10)
    local_frames = frames_from(str(src), 30.0, 10)

    assert len(remote_frames) == 10 and all(
        np.array_equal(a, b) for a, b in zip(remote_frames, local_frames, strict=True)
    )
    per_frame = size / 1000
    assert clip.bytes_fetched <= opened + 10 * per_frame + 2 * 256 * KiB, "header, index and the 10 frames"
    assert clip.requests <= clip.bytes_fetched / (256 * KiB) + 1, "whole blocks, not a GET per small read"


def test_read_ahead_fetches_the_next_blocks_while_these_are_read(aws: LocalAws, tmp_path: Path) -> None:
    src = make(tmp_path / "clip.avi", *lavfi_video(10.0, "640x480"), "-c:v", "mjpeg", "-q:v", "3")
    s3 = aws.s3()
    aws.create_bucket("ahead")
    s3.upload_file(str(src), "ahead", "clip.avi")

    with S3RangeFile(s3, "ahead", "clip.avi", block=256 * KiB, readahead=4) as remote:
        data = remote.read()
        blocks = -(-src.stat().st_size // (256 * KiB))
        assert data == src.read_bytes()
        assert remote.prefetched_hits >= blocks - 2, (remote.prefetched_hits, blocks)
        assert remote.requests == blocks, "every block once: none fetched twice, none past the end"
    assert not any(t.name.startswith("avi2mp4-readahead") for t in threading.enumerate()), "closed: thread gone"
