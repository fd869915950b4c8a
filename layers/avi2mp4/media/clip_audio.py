"""Each clip's audio: decoded samples routed sample-exact to the clip whose time span holds them,
encoded by the clip's own AAC encoder; and, while a video may still turn out short, the whole
video's audio encoded in one piece for the single file it would become."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

from .audio_split import SAMPLE_FORMAT, AudioSplitter
from .encoders import AudioEncoder
from .probe import aac_rate


class ClipAudioTrack:
    """One clip's audio stream and the AAC encoder that feeds it (priming is in the MP4 edit list)."""

    def __init__(self, container: OutputContainer, rate: int, layout: str) -> None:
        self.container = container
        self.encoder = AudioEncoder(rate, layout)
        self.stream: AudioStream = container.add_stream_from_template(self.encoder.stream)

    def encode(self, frame: AudioFrame | None) -> None:
        packets = self.encoder.encode(frame) if frame is not None else list(self.encoder.flush())
        for packet in packets:
            packet.stream = self.stream
            self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoder into the clip (before the clip's container closes)."""
        self.encode(None)
        self.encoder.close()

    def abort(self) -> None:
        self.encoder.close()


class AudioRouter:
    """Decoded audio -> the clip tracks, cut at the clips' start times, never past the picture.

    The whole-video stream is only wanted for a short video of two or more segments. Until a
    second segment opens (``need_whole``), its samples are kept raw rather than encoded: a video
    of one segment, the common short one, would throw that encoding away (measured: AAC encoding
    of a minute of audio took 0.52 CPU-s instead of 0.87). ``WHOLE_BUFFER_BYTES`` bounds what is
    kept; past it, encoding starts."""

    WHOLE_BUFFER_BYTES = 64 << 20

    def __init__(self, source_rate: int, layout: str, time_base: Fraction) -> None:
        """``source_rate``: the decoded audio's; the clips carry the nearest rate AAC has."""
        self.rate, self.layout, self.time_base = aac_rate(source_rate), layout, time_base
        self.source_rate = source_rate
        self.samples = AudioSplitter(self.rate, layout)  # resamples as it collects
        self._whole: AudioEncoder | None = AudioEncoder(self.rate, layout)
        self._whole_packets: list[Packet[Stream]] = []
        self._unencoded: list[bytearray] | None = []  # a buffer per channel; None: encoding as they come
        self._unencoded_bytes = 0

    def track(self, container: OutputContainer) -> ClipAudioTrack:
        return ClipAudioTrack(container, self.rate, self.layout)

    def sample_at(self, ticks: int) -> int:
        return round(ticks * self.time_base * self.rate)

    def add(self, frame: AudioFrame, position: int | None = None, floor_ticks: int = 0) -> None:
        """``position``: where a clip job's first decoded sample lies on the recording's timeline
        (in the source's samples)."""
        if position is not None and self.samples.received == 0:
            self.samples.start_at(round(position * self.rate / self.source_rate), self.sample_at(floor_ticks))
        self.samples.add(frame)

    def has_reached(self, ticks: int) -> bool:
        """Whether every sample before video time ``ticks`` has been routed."""
        return self.samples.taken >= self.sample_at(ticks)

    def pump(self, clips: list[tuple[int, ClipAudioTrack]], video_end: int) -> None:
        """Route what is known to belong to a clip: samples up to ``video_end`` (ticks), each into
        the clip (start ticks, track; in order) whose span holds it."""
        end = self.sample_at(video_end)
        starts = [self.sample_at(start) for start, _ in clips]
        while clips and self.samples.taken < min(end, self.samples.received):
            at = self.samples.taken
            owner = max((i for i, start in enumerate(starts) if start <= at), default=None)
            if owner is None:  # before the first picture's time: part of no clip
                self.samples.take(starts[0])
                continue
            frame = self.samples.take(starts[owner + 1] if owner + 1 < len(starts) else end)
            if frame is None:
                break
            if self._whole is not None:
                self._add_to_whole(frame.to_ndarray())
            clips[owner][1].encode(frame)

    def _add_to_whole(self, samples: np.ndarray) -> None:
        """``samples``: (channels, n) float32, as the splitter hands them out."""
        if self._unencoded is not None and self._unencoded_bytes + samples.nbytes <= self.WHOLE_BUFFER_BYTES:
            # Kept in one growing buffer per channel: thousands of small arrays cost twice their size.
            if not self._unencoded:
                self._unencoded = [bytearray() for _ in range(samples.shape[0])]
            for plane, channel in zip(self._unencoded, samples, strict=True):
                plane += channel.tobytes()
            self._unencoded_bytes += samples.nbytes
            return
        self.need_whole()
        assert self._whole is not None
        frame = AudioFrame.from_ndarray(np.ascontiguousarray(samples), format=SAMPLE_FORMAT, layout=self.layout)
        frame.sample_rate = self.rate
        self._whole_packets += self._whole.encode(frame)

    def need_whole(self) -> None:
        """A second segment opened: the whole-video stream may be wanted; encode what was kept."""
        kept, self._unencoded, self._unencoded_bytes = self._unencoded or [], None, 0
        if kept:
            samples = np.stack([np.frombuffer(plane, dtype=np.float32) for plane in kept])
            for start in range(0, samples.shape[1], self.rate):  # a second at a time
                self._add_to_whole(samples[:, start : start + self.rate])

    def whole(self) -> tuple[AudioStream | None, list[Packet[Stream]]]:
        """The whole video's audio (for joining a short video's segments), flushed."""
        if self._whole is None:
            return None, []
        self.need_whole()
        self._whole_packets += list(self._whole.flush())
        return self._whole.stream, self._whole_packets

    def drop_whole(self) -> None:
        """The video is split: its clips keep their own audio; the whole-video copy is not needed."""
        if self._whole is not None:
            self._whole.close()
        self._whole, self._whole_packets = None, []
        self._unencoded, self._unencoded_bytes = None, 0
