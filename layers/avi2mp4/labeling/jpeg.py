"""Every Nth decoded frame is a JPEG candidate; the kept ones are encoded here."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import ColorRange
from PIL import ExifTags, Image

from ..media.colour import SMPTE170M, sws_matrix
from ..media.picture import source_range


def is_sampled(index: int, frame_step: int) -> bool:
    """Frames 0, N, 2N, ... of the decoded sequence are JPEG candidates."""
    return index % frame_step == 0


def encode_jpeg(frame: VideoFrame, quality: int, matrix: int = SMPTE170M) -> bytes:
    """The frame as a baseline JPEG at its stored resolution (labels map 1:1 to decoded pixels)."""
    return jpeg_bytes(jpeg_pixels(frame, matrix), quality)


def jpeg_pixels(frame: VideoFrame, matrix: int = SMPTE170M) -> np.ndarray:
    """The frame's RGB pixels, in an array of their own (safe to hand to another thread).

    The source's range and matrix (``matrix``: as tagged, or as players assume for its size) are
    passed explicitly: full-range MJPEG read as limited would look washed out, and an HD picture
    read with BT.601's matrix would turn its greens and reds (the MP4 says BT.709).
    """
    rgb = frame.reformat(
        format="rgb24",
        src_colorspace=sws_matrix(matrix),
        src_color_range=source_range(frame),
        dst_color_range=ColorRange.JPEG,
        threads=1,  # the cores are busy with decoding and x264
    )
    return np.ascontiguousarray(rgb.to_ndarray())


def jpeg_bytes(rgb: np.ndarray, quality: int, taken: dt.datetime | None = None) -> bytes:
    """RGB pixels as a baseline JPEG (Pillow's encoder releases the GIL while it works); ``taken``:
    when the frame was shown, by the camera's clock, as EXIF ``DateTimeOriginal`` (and its
    milliseconds as ``SubSecTimeOriginal``)."""
    buf = io.BytesIO()
    extra = {"exif": exif_taken(taken).tobytes()} if taken is not None else {}
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality, **extra)
    return buf.getvalue()


def exif_taken(taken: dt.datetime) -> Image.Exif:
    exif = Image.Exif()
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    ifd[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
    ifd[ExifTags.Base.SubsecTimeOriginal] = f"{taken.microsecond // 1000:03d}"
    return exif


def pixels_md5(jpeg: bytes) -> str:
    """MD5 of the JPEG's decoded pixels, as CVAT's dataset manifest checksums an image."""
    with Image.open(io.BytesIO(jpeg)) as image:
        return hashlib.md5(image.tobytes(), usedforsecurity=False).hexdigest()
