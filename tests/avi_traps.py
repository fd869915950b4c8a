"""Real-world AVI variants (pitfalls.md, "AVI files"), generated on demand with the ffmpeg binary.

Each builder writes one file and returns what a correct conversion must show. Header surgery
(unfinalized, bogus rates) edits the RIFF fields that real broken writers leave behind.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devtools.fuzz import find_all
from devtools.readback import lavfi_audio, lavfi_video, make

SECONDS = 2.0


@dataclass(frozen=True)
class Trap:
    path: Path
    fps: float
    """Rate the output timeline should run at (the fallback for bogus headers)."""
    has_audio: bool = False
    sar: str | None = None
    min_decode_errors: int = 0
    gap_frames: int = 0
    """Frame slots with no picture (VFR), which the duration must keep."""


def _v(seconds: float = SECONDS, size: str = "320x240", rate: int = 25) -> list[str]:
    # testsrc2 rounds sizes to even; testsrc keeps odd ones, which are the point of some traps.
    odd = any(int(n) % 2 for n in size.split("x"))
    return lavfi_video(seconds, size, rate, src="testsrc" if odd else "testsrc2")


def mjpeg_422_full_range(d: Path) -> Trap:
    p = make(d / "mjpeg422.avi", *_v(), *lavfi_audio(SECONDS), "-c:v", "mjpeg", "-pix_fmt", "yuvj422p",
             "-q:v", "3", "-c:a", "pcm_s16le")  # fmt: skip
    return Trap(p, 25, has_audio=True)


def xvid_packed_bframes(d: Path) -> Trap:
    # libxvid packs B-frames into AVI (with N-VOP placeholders), as DivX 5 and Xvid captures do.
    return Trap(make(d / "xvid_bf.avi", *_v(), "-c:v", "libxvid", "-bf", "2", "-vtag", "XVID"), 25)


def divx5_bframes_adpcm(d: Path) -> Trap:
    p = make(d / "divx_bf.avi", *_v(), *lavfi_audio(SECONDS, 22050), "-c:v", "mpeg4", "-bf", "2",
             "-vtag", "DX50", "-c:a", "adpcm_ms")  # fmt: skip
    return Trap(p, 25, has_audio=True)


def h264_bframes(d: Path) -> Trap:
    return Trap(make(d / "h264_bf.avi", *_v(), "-c:v", "libx264", "-bf", "3", "-preset", "veryfast"), 25)


def divx3(d: Path) -> Trap:
    return Trap(make(d / "divx3.avi", *_v(), "-c:v", "msmpeg4", "-vtag", "DIV3"), 25)


def raw_bgr24_odd(d: Path) -> Trap:
    return Trap(make(d / "bgr24_161x121.avi", *_v(size="161x121"), "-c:v", "rawvideo", "-pix_fmt", "bgr24"), 25)


def mjpeg_odd_size(d: Path) -> Trap:
    return Trap(make(d / "mjpeg_321x241.avi", *_v(size="321x241"), "-c:v", "mjpeg", "-pix_fmt", "yuvj420p"), 25)


def raw_y800(d: Path) -> Trap:
    return Trap(make(d / "y800.avi", *_v(), "-c:v", "rawvideo", "-pix_fmt", "gray", "-vtag", "Y800"), 25)


def raw_pal8(d: Path) -> Trap:
    return Trap(make(d / "pal8.avi", *_v(size="161x121"), "-c:v", "rawvideo", "-pix_fmt", "pal8"), 25)


def msrle(d: Path) -> Trap:
    return Trap(make(d / "msrle.avi", *_v(), "-c:v", "msrle", "-pix_fmt", "pal8"), 25)


def cinepak(d: Path) -> Trap:
    return Trap(make(d / "cinepak.avi", *_v(seconds=1.0), "-c:v", "cinepak"), 25)


def msvideo1(d: Path) -> Trap:
    return Trap(make(d / "msvideo1.avi", *_v(), "-c:v", "msvideo1"), 25)


def huffyuv(d: Path) -> Trap:
    return Trap(make(d / "huffyuv.avi", *_v(), "-c:v", "huffyuv"), 25)


def zmbv(d: Path) -> Trap:
    return Trap(make(d / "zmbv.avi", *_v(), "-c:v", "zmbv", "-pix_fmt", "bgr24"), 25)


def dv_ntsc_interlaced(d: Path) -> Trap:
    p = make(d / "dv.avi", *lavfi_video(SECONDS, "720x480", 30), "-r", "30000/1001", "-c:v", "dvvideo",
             "-pix_fmt", "yuv411p", "-flags", "+ilme+ildct", "-aspect", "4:3")  # fmt: skip
    return Trap(p, 30000 / 1001, sar="8:9")


def mp4_named_avi(d: Path) -> Trap:
    p = make(d / "really_mp4.avi", *_v(), *lavfi_audio(SECONDS), "-c:v", "libx264", "-c:a", "aac", "-f", "mp4")
    return Trap(p, 25, has_audio=True)


def mkv_named_avi(d: Path) -> Trap:
    return Trap(make(d / "really_mkv.avi", *_v(), "-c:v", "libx264", "-bf", "2", "-f", "matroska"), 25)


def asf_named_avi(d: Path) -> Trap:
    return Trap(make(d / "really_asf.avi", *_v(), "-c:v", "msmpeg4v2", "-f", "asf"), 25)


def vfr_zero_byte_chunks(d: Path) -> Trap:
    # Frames 10-19 never reach the muxer; the AVI muxer fills their slots with zero-byte chunks.
    p = make(d / "vfr_gaps.avi", *_v(), "-vf", "select='not(between(n\\,10\\,19))'", "-fps_mode",
             "passthrough", "-c:v", "mjpeg")  # fmt: skip
    return Trap(p, 25, gap_frames=10)


def truncated_no_index(d: Path) -> Trap:
    src = make(d / "full_for_truncation.avi", *_v(seconds=4.0), "-c:v", "mjpeg")
    data = src.read_bytes()
    src.unlink()
    p = d / "truncated.avi"
    p.write_bytes(data[: int(len(data) * 0.57)])  # idx1 lives at the end: gone, last chunk cut
    return Trap(p, 25)


def unfinalized_header(d: Path) -> Trap:
    """A writer that crashed: header counts still 0 and no index."""
    p = make(d / "unfinalized.avi", *_v(), "-c:v", "mjpeg")
    data = _drop_index(bytearray(p.read_bytes()))
    _patch_u32(data, b"avih", 16, 0)  # dwTotalFrames
    _patch_strh(data, dw_length=0)
    _patch_dmlh(data, 0)
    p.write_bytes(bytes(data))
    return Trap(p, 25)


def header_1000fps(d: Path) -> Trap:
    p = make(d / "claims_1000fps.avi", *_v(), "-c:v", "mjpeg")
    data = bytearray(p.read_bytes())
    _patch_u32(data, b"avih", 0, 1000)  # dwMicroSecPerFrame
    _patch_strh(data, scale=1, rate=1000)
    p.write_bytes(bytes(data))
    return Trap(p, 25.0)  # implausible -> fallback rate


def header_rate_zero(d: Path) -> Trap:
    p = make(d / "rate_0_0.avi", *_v(), "-c:v", "mjpeg")
    data = bytearray(p.read_bytes())
    _patch_u32(data, b"avih", 0, 0)
    _patch_strh(data, scale=0, rate=0)
    p.write_bytes(bytes(data))
    return Trap(p, 25.0)


def damaged_packets(d: Path) -> Trap:
    """MPEG-4 with a few frames' payload overwritten: the decoder errors, the job goes on."""
    p = make(d / "damaged.avi", *_v(seconds=3.0), "-c:v", "mpeg4", "-g", "25", "-q:v", "4")
    data = bytearray(p.read_bytes())
    chunks = [i for i in find_all(data, b"00dc") if i > data.find(b"movi")]
    for at in chunks[5:40:7]:
        size = struct.unpack_from("<I", data, at + 4)[0]
        if size > 40:
            data[at + 8 + 4 : at + 8 + min(size, 400)] = b"\xff" * (min(size, 400) - 4)
    p.write_bytes(bytes(data))
    return Trap(p, 25, min_decode_errors=1)


TRAPS: dict[str, Callable[[Path], Trap]] = {
    f.__name__: f
    for f in (
        mjpeg_422_full_range, mjpeg_odd_size, xvid_packed_bframes, divx5_bframes_adpcm, h264_bframes,
        divx3, raw_bgr24_odd, raw_y800, raw_pal8, msrle, cinepak, msvideo1, huffyuv, zmbv,
        dv_ntsc_interlaced, mp4_named_avi, mkv_named_avi, asf_named_avi, vfr_zero_byte_chunks,
        truncated_no_index, unfinalized_header, header_1000fps, header_rate_zero, damaged_packets,
    )
}  # fmt: skip


# ---- rejects ----------------------------------------------------------------------------------
def zero_bytes(d: Path) -> Path:
    p = d / "empty.avi"
    p.write_bytes(b"")
    return p


def html_named_avi(d: Path) -> Path:
    p = d / "download.avi"
    p.write_text("<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>nope</body></html>\n")
    return p


def audio_only_avi(d: Path) -> Path:
    return make(d / "audio_only.avi", *lavfi_audio(1.0), "-c:a", "pcm_s16le")


def header_only_avi(d: Path) -> Path:
    src = make(d / "for_header.avi", *_v(seconds=1.0), "-c:v", "mjpeg")
    data = src.read_bytes()
    src.unlink()
    p = d / "header_only.avi"
    p.write_bytes(data[: data.find(b"movi") + 4])
    return p


REJECTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "zero_bytes": (zero_bytes, "EmptyFile"),
    "html_named_avi": (html_named_avi, "UnreadableVideo"),
    "audio_only_avi": (audio_only_avi, "NoVideoStream"),
    "header_only_avi": (header_only_avi, "NoDecodableFrames"),
}


# ---- RIFF surgery -----------------------------------------------------------------------------
def _patch_u32(data: bytearray, tag: bytes, offset: int, value: int) -> None:
    at = data.find(tag)
    assert at != -1, tag
    struct.pack_into("<I", data, at + 8 + offset, value)


def _patch_strh(
    data: bytearray, *, scale: int | None = None, rate: int | None = None, dw_length: int | None = None
) -> None:
    for at in find_all(data, b"strh"):
        if data[at + 8 : at + 12] != b"vids":
            continue
        for offset, value in ((20, scale), (24, rate), (32, dw_length)):
            if value is not None:
                struct.pack_into("<I", data, at + 8 + offset, value)


def _patch_dmlh(data: bytearray, total: int) -> None:
    at = data.find(b"dmlh")
    if at != -1:
        struct.pack_into("<I", data, at + 8, total)


def _drop_index(data: bytearray) -> bytearray:
    at = data.rfind(b"idx1")
    return data[:at] if at != -1 else data
