"""H.264 that browsers already play, copied into the MP4 instead of encoded again.

Whether a stream may be copied (``copy_decision``) is decided with the rest of the picture setup,
from the stream's parameters and its first pictures: H.264, 8-bit 4:2:0, limited range, a profile
and level browsers decode, progressive, SDR, on a timeline that holds up (not re-timed).

A copied packet keeps its bytes; only its timestamps are made: AVI stores decode times only (its
"pts" is the decode time plus one), so a packet's presentation time is that of the frame it
decodes into (the decoder tells which: each packet carries its decode number as ``opaque``), and
its decode time is the k-th presentation time less the decoder's reorder delay (``PacketTimer``).
The MP4 muxer turns Annex B into length-prefixed NAL units (``as_stored`` says exactly how) and the
stream's parameter sets into ``avcC``.

Clips of a copied stream start on an IDR picture (a keyframe that nothing after it refers past):
the first at or after ``CLIP_SECONDS`` from the clip before's start (``media.clips``).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from av.packet import Packet
from av.stream import Stream

from ..errors import Avi2Mp4Error

BROWSER_PROFILES = {"Constrained Baseline", "Baseline", "Main", "High"}
MAX_LEVEL = 52
"""Level 5.2 (2160p60): what browsers' hardware and software decoders take."""


class CopyNotPossible(Avi2Mp4Error):
    """A stream chosen for copying turned out not to be (a packet that does not decode into one
    frame, timestamps out of order): the conversion encodes it instead, saying why."""


@dataclass(frozen=True)
class CopyDecision:
    copy: bool
    why: str
    """Why copied, or why not (``yuv422p``, ``interlaced``, ``the setting VIDEO_COPY=never``...)."""

    def to_dict(self) -> dict[str, object]:
        return {"copy": self.copy, "why": self.why}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CopyDecision:
        return cls(bool(data["copy"]), str(data["why"]))


def copy_decision(mode: str, codec: str, pix_fmt: str | None, profile: str | None, level: int, *, full_range: bool,
                  interlaced: bool, converts_colour: bool, retimed: bool) -> CopyDecision:  # fmt: skip
    """Whether a video stream is copied (``mode``: VIDEO_COPY, ``auto`` or ``never``)."""
    if mode == "never":
        return CopyDecision(False, "the setting VIDEO_COPY=never")
    problems = []
    if codec != "h264":
        problems.append(f"{codec}, not H.264")
    else:
        if pix_fmt == "yuvj420p" or (pix_fmt == "yuv420p" and full_range):
            problems.append("full range")  # browsers show H.264 limited range; FFmpeg names full "yuvj"
        elif pix_fmt != "yuv420p":
            problems.append(pix_fmt or "an unknown pixel format")
        if profile not in BROWSER_PROFILES:
            problems.append(f"the {profile or 'unknown'} profile")
        if not 0 < level <= MAX_LEVEL:
            problems.append(f"level {level / 10:g}" if level > 0 else "an unknown level")
        if interlaced:
            problems.append("interlaced")
        if converts_colour:
            problems.append("colours to convert")
        if retimed:
            problems.append("timestamps re-made (the header's rate is implausible)")
    if problems:
        return CopyDecision(False, ", ".join(problems))
    return CopyDecision(True, "H.264 that browsers play")


class PacketTimer:
    """Copied packets in decode order -> packets with presentation and decode times, as soon as
    both are known. ``packet(n, p)`` registers decode number ``n``; ``frame(n, pts)`` says packet
    ``n`` decoded into the next frame (presentation order) at ``pts``; ``ready()`` hands out, in
    decode order, the packets whose times are set. ``delay``: the decoder's reorder delay in ticks."""

    def __init__(self, delay: int) -> None:
        self.delay = delay
        self._packets: collections.OrderedDict[int, Packet[Stream]] = collections.OrderedDict()
        self._pts: dict[int, int] = {}
        # Presentation times in order, from the next packet's on: the k-th is packet k's decode time.
        self._presented: collections.deque[int] = collections.deque()
        self._next: int | None = None  # the next decode number to hand out

    def packet(self, number: int, packet: Packet[Stream]) -> None:
        if self._next is None:
            self._next = number
        self._packets[number] = packet

    def frame(self, number: int | None, pts: int) -> None:
        if number is None or number not in self._packets or number in self._pts:
            raise CopyNotPossible(f"a frame at {pts} came from no single packet (number {number})")
        self._pts[number] = pts
        self._presented.append(pts)

    def ready(self) -> list[Packet[Stream]]:
        out = []
        while self._next is not None and self._next in self._pts and self._presented:
            packet = self._packets.pop(self._next)
            packet.pts = self._pts.pop(self._next)
            packet.dts = self._presented.popleft() - self.delay
            if packet.dts > packet.pts:
                raise CopyNotPossible(f"packet {self._next} would be decoded after it is shown (its reorder is "
                                      "deeper than the decoder said)")  # fmt: skip
            out.append(packet)
            self._next += 1
        return out

    def finish(self) -> list[Packet[Stream]]:
        out = self.ready()
        if self._packets:
            raise CopyNotPossible(f"{len(self._packets)} packets decoded into no frame")
        return out
