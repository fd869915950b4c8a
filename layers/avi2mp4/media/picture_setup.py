"""How a source's pictures are prepared, decided once from its first pictures, and the chain that
prepares them.

``decide_setup`` decodes the first pictures (at most ``SETUP_FRAMES``) of its own copy of the
source: their colour tags give the rendition (``media.colour``), their flags or their combing say
whether to deinterlace (``media.interlace``). One pass decides before it starts; a plan decides
for every clip job of a recording, so all of them prepare pictures alike.

``PictureChain`` then runs every decoded picture through FFmpeg's filters, one picture out per
picture in (``bwdif`` in ``send_frame`` mode; ``colorspace`` for a wide gamut), before anything
else sees it: the encoder, the JPEGs and the dead-frame judge. Frame numbers and times are the
decoder's; the chain holds at most one picture back (bwdif needs the next to deinterlace one).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from dataclasses import dataclass
from fractions import Fraction

import av
import av.filter
from av.video.frame import VideoFrame

from ..settings import PipelineConfig
from .colour import PictureColour, Rendition, as_tagged, render
from .decode import DecodedFrame
from .interlace import CombMeter, Interlace, decide
from .passthrough import CopyDecision, copy_decision
from .probe import MediaSource, open_input, video_facts

log = logging.getLogger(__name__)

SETUP_FRAMES = 48
"""Pictures decoded to decide (the combing measure stops earlier once it has enough motion)."""
SETUP_PACKETS = 400
FIELD_ORDER = {1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}
"""FFmpeg's AVFieldOrder, as PyAV gives it."""
PARITY = {"tff": 0, "bff": 1, "auto": -1}


NOT_COPIED = CopyDecision(False, "its first pictures could not be read")


@dataclass(frozen=True)
class PictureSetup:
    rendition: Rendition
    interlace: Interlace
    copy: CopyDecision = NOT_COPIED
    """Whether the video stream is copied as it is (``media.passthrough``), and why (not)."""

    def to_dict(self) -> dict[str, object]:
        return {"rendition": dataclasses.asdict(self.rendition), "interlace": self.interlace.to_dict(),
                "copy": self.copy.to_dict()}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PictureSetup:
        rendition, interlace, copy = data["rendition"], data["interlace"], data["copy"]
        assert isinstance(rendition, dict) and isinstance(interlace, dict) and isinstance(copy, dict)
        return cls(Rendition(**rendition), Interlace.from_dict(interlace), CopyDecision.from_dict(copy))

    def describe(self) -> dict[str, object]:
        """For the manifest: what was done to the pictures, and why."""
        return {
            "video": "copied" if self.copy.copy else "encoded",
            "copy": self.copy.why,
            "deinterlaced": self.interlace.deinterlace,
            "interlace": self.interlace.how,
            "colour": self.rendition.describe(),
        }

    def not_copied(self, why: str) -> PictureSetup:
        """The setup of a pass that encoded the stream after a copy turned out impossible."""
        return dataclasses.replace(self, copy=CopyDecision(False, why))


def plain_setup(width: int, height: int, mode: str = "auto") -> PictureSetup:
    """What a source gets when its first pictures cannot be read: nothing done to them."""
    rendition = render(PictureColour(2, 2, 2, False), width, height)
    return PictureSetup(rendition, Interlace(mode == "on", "auto", "no picture to measure"))


def decide_setup(src: MediaSource, name: str, cfg: PipelineConfig) -> PictureSetup | None:
    """The setup of ``src`` from its first pictures; None if it has no video that decodes (the pass
    itself then says what is wrong). Reads its own copy of the file and leaves no trace."""
    meter = CombMeter()
    first: VideoFrame | None = None
    flagged = False
    try:
        with open_input(src, name) as container:
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            ctx = video.codec_context
            codec, order = ctx.name, FIELD_ORDER.get(int(ctx.field_order or 0), "unknown")
            stream = (ctx.pix_fmt, ctx.profile, int(ctx.level or 0), video_facts(container, video, None, cfg).retimed)
            frames = 0
            for count, packet in enumerate(container.demux(video)):
                if count >= SETUP_PACKETS or frames >= SETUP_FRAMES or (meter.enough and first is not None):
                    break
                try:
                    decoded = packet.decode()
                except av.FFmpegError:
                    continue
                for frame in decoded:
                    assert isinstance(frame, VideoFrame)
                    first = first or frame
                    flagged = flagged or bool(frame.interlaced_frame)
                    frames += 1
                    if cfg.deinterlace == "auto" and not flagged:
                        meter.feed(frame.to_ndarray(format="gray"))
    except Exception as exc:  # a guess only: the pass itself reports what is wrong with the file
        log.info("%s: the first pictures could not be read to set up (%s)", name, exc)
    if first is None:
        return None
    interlace = decide(cfg.deinterlace, codec, order, flagged, meter)
    colour = PictureColour.of(first)
    rendition = render(colour, first.width, first.height)
    pix_fmt, profile, level, retimed = stream
    copy = copy_decision(cfg.video_copy, codec, pix_fmt, profile, level, full_range=colour.full_range,
                         interlaced=interlace.deinterlace or flagged, converts_colour=rendition.gamut is not None,
                         retimed=retimed)  # fmt: skip
    if copy.copy:  # the stream keeps its own tags: say what they are
        rendition = as_tagged(colour, first.width, first.height)
    setup = PictureSetup(rendition, interlace, copy)
    log.info("%s: pictures: %s", name, setup.describe())
    return setup


class PictureChain:
    """Decoded pictures in, prepared pictures out (as ``DecodedFrame``s: number, time and damage
    are the decoded picture's). Without anything to do it hands pictures straight through."""

    def __init__(self, setup: PictureSetup) -> None:
        self.setup = setup
        self._steps: list[tuple[str, str]] = []
        if setup.interlace.deinterlace:
            self._steps.append(("bwdif", f"mode=send_frame:parity={PARITY[setup.interlace.parity]}:deint=all"))
        if setup.rendition.gamut:
            self._steps.append(("colorspace", setup.rendition.gamut))
        self._graph: av.filter.Graph | None = None
        self._shape: tuple[int, int, str] | None = None
        self._waiting: collections.deque[DecodedFrame] = collections.deque()
        self._pushed = 0

    @property
    def active(self) -> bool:
        return bool(self._steps)

    def push(self, item: DecodedFrame) -> list[DecodedFrame]:
        if not self._steps:
            return [item]
        frame = item.frame
        shape = (frame.width, frame.height, frame.format.name)
        ready = []
        if self._graph is None or shape != self._shape:
            ready = self.flush()  # a new size mid-stream: a new graph (what the old one holds first)
            self._graph, self._shape = self._build(frame), shape
        frame.pts = self._pushed  # increasing, as the filters require
        self._pushed += 1
        self._waiting.append(item)
        assert self._graph is not None
        self._graph.vpush(frame)
        return ready + self._pull()

    def flush(self) -> list[DecodedFrame]:
        if self._graph is None:
            return []
        self._graph.vpush(None)
        ready = self._pull()
        self._graph = None
        self._waiting.clear()
        return ready

    def _pull(self) -> list[DecodedFrame]:
        assert self._graph is not None
        ready: list[DecodedFrame] = []
        while True:
            try:
                out = self._graph.vpull()
            except (av.BlockingIOError, av.EOFError):
                return ready
            # One picture out per picture in, in order (bwdif in send_frame mode doubles the times,
            # so they do not say which one it was).
            item = self._waiting.popleft()
            ready.append(DecodedFrame(item.index, item.pts, out, item.damaged))

    def _build(self, frame: VideoFrame) -> av.filter.Graph:
        graph = av.filter.Graph()
        node = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                time_base=Fraction(1, 1000))  # fmt: skip
        nodes = [node] + [graph.add(name, args) for name, args in self._steps] + [graph.add("buffersink")]
        graph.link_nodes(*nodes).configure()
        return graph
