"""Mutated AVIs for robustness tests: header fields a broken writer or a bit flip gets wrong
(unknown FourCC, absurd rates, 64-channel or 1 Hz audio, huge or zero sizes), damaged bytes,
truncations and garbage indexes, from a few small generated AVIs. Seeded: the same seed makes
the same files."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

from devtools.readback import lavfi_audio, lavfi_video, make

Mutation = Callable[[bytearray, random.Random], bytearray]


def find_all(data: bytearray, tag: bytes) -> list[int]:
    """Offsets of every ``tag`` (a RIFF chunk id) in ``data``."""
    found, at = [], data.find(tag)
    while at != -1:
        found.append(at)
        at = data.find(tag, at + 1)
    return found


def _stream_headers(data: bytearray, kind: bytes) -> list[tuple[int, int | None]]:
    """(strh offset, strf offset) of each stream of ``kind`` (``vids``/``auds``)."""
    pairs = []
    for at in find_all(data, b"strh"):
        if data[at + 8 : at + 12] == kind:
            strf = data.find(b"strf", at)
            pairs.append((at, strf if strf != -1 else None))
    return pairs


def _set(data: bytearray, at: int | None, offset: int, fmt: str, value: int) -> None:
    if at is not None and at + 8 + offset + struct.calcsize(fmt) <= len(data):
        struct.pack_into(fmt, data, at + 8 + offset, value)


def unknown_fourcc(data: bytearray, rng: random.Random) -> bytearray:
    for strh, strf in _stream_headers(data, b"vids"):
        data[strh + 12 : strh + 16] = b"QZX9"
        if strf is not None:
            data[strf + 8 + 16 : strf + 8 + 20] = b"QZX9"
    return data


def rate(scale: int, value: int) -> Mutation:
    def mutate(data: bytearray, rng: random.Random) -> bytearray:
        for strh, _ in _stream_headers(data, b"vids"):
            _set(data, strh, 20, "<I", scale)
            _set(data, strh, 24, "<I", value)
        return data

    return mutate


def audio_field(offset: int, fmt: str, value: int) -> Mutation:
    def mutate(data: bytearray, rng: random.Random) -> bytearray:
        for _, strf in _stream_headers(data, b"auds"):
            _set(data, strf, offset, fmt, value)
        return data

    return mutate


def video_size(width: int, height: int) -> Mutation:
    def mutate(data: bytearray, rng: random.Random) -> bytearray:
        for _, strf in _stream_headers(data, b"vids"):
            _set(data, strf, 4, "<i", width)
            _set(data, strf, 8, "<i", height)
        avih = data.find(b"avih")
        _set(data, avih if avih != -1 else None, 32, "<I", max(width, 0))
        _set(data, avih if avih != -1 else None, 36, "<I", max(height, 0))
        return data

    return mutate


def flip_bytes(region: str, count: int) -> Mutation:
    def mutate(data: bytearray, rng: random.Random) -> bytearray:
        movi = max(data.find(b"movi"), 64)
        lo, hi = (12, movi) if region == "header" else (movi, len(data))
        for _ in range(count):
            data[rng.randrange(lo, hi)] = rng.randrange(256)
        return data

    return mutate


def truncate(data: bytearray, rng: random.Random) -> bytearray:
    return data[: rng.randrange(len(data) // 8, len(data))]


def garbage_index(data: bytearray, rng: random.Random) -> bytearray:
    at = data.rfind(b"idx1")
    if at != -1:
        for i in range(at + 8, len(data)):
            data[i] = rng.randrange(256)
    return data


def header_lengths(data: bytearray, rng: random.Random) -> bytearray:
    for strh, _ in _stream_headers(data, b"vids"):
        _set(data, strh, 32, "<I", rng.choice([0, 1, 0xFFFFFFFF]))
    avih = data.find(b"avih")
    _set(data, avih if avih != -1 else None, 16, "<I", rng.choice([0, 0x7FFFFFFF]))
    return data


MUTATIONS: dict[str, Mutation] = {
    "unknown_fourcc": unknown_fourcc,
    "rate_1e-9": rate(1_000_000_000, 1),
    "rate_4e9": rate(1, 4_000_000_000),
    "rate_scale_0": rate(0, 25),
    "audio_64ch": audio_field(2, "<H", 64),
    "audio_1hz": audio_field(4, "<I", 1),
    "audio_0ch": audio_field(2, "<H", 0),
    "size_8k": video_size(7680, 4320),
    "size_0": video_size(0, 0),
    "size_negative": video_size(-160, -120),
    "header_bytes": flip_bytes("header", 12),
    "body_bytes": flip_bytes("body", 200),
    "truncate": truncate,
    "garbage_index": garbage_index,
    "header_lengths": header_lengths,
}


def base_files(folder: Path) -> list[Path]:
    """Small AVIs of the kinds people upload: MJPEG+PCM, MPEG-4 with B-frames+ADPCM, raw BGR."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        make(folder / "mjpeg.avi", *lavfi_video(1.0, "160x120"), *lavfi_audio(1.0, 8000), "-c:v", "mjpeg",
             "-c:a", "pcm_s16le"),
        make(folder / "mpeg4.avi", *lavfi_video(1.0, "160x120"), *lavfi_audio(1.0, 22050), "-c:v", "mpeg4",
             "-bf", "2", "-vtag", "DX50", "-c:a", "adpcm_ms"),
        make(folder / "raw.avi", *lavfi_video(0.5, "64x48"), "-c:v", "rawvideo", "-pix_fmt", "bgr24"),
    ]  # fmt: skip


def mutants(bases: list[Path], folder: Path, seed: int, count: int) -> list[Path]:
    """``count`` mutants: every mutation at least once (over the bases in turn), then random ones."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = list(MUTATIONS)
    plan = names + [rng.choice(names) for _ in range(max(0, count - len(names)))]
    out = []
    for i, name in enumerate(plan[:count]):
        base = bases[i % len(bases)]
        data = MUTATIONS[name](bytearray(base.read_bytes()), rng)
        path = folder / f"{i:03d}-{base.stem}-{name}.avi"
        path.write_bytes(bytes(data))
        out.append(path)
    return out
