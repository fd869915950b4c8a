"""Review sheets: every sampled frame of a video as a small thumbnail, in order, for people who would
rather look than read. Kept frames show as they are; dropped ones are dimmed with their reason
written across them; the frame index is under each. One page per 120 s segment (a clip of a split
video), so a clip job renders its own page and finish can still mark a tile (``mark``)."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from av.video.frame import VideoFrame
from PIL import Image, ImageDraw, ImageFont

TILE_WIDTH = 96
COLUMNS = 12
LABEL_HEIGHT = 14
BACKGROUND = (24, 24, 24)
DIM = 0.3  # a dropped frame keeps 30 % of its brightness
PAGE_QUALITY = 80


@functools.cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=11)


MAX_PAGE_HEIGHT = 16_000
"""A page this tall holds ~186 rows; more tiles (every frame sampled at 120 fps) widen it instead:
a JPEG cannot exceed 65,535 px a side."""


@dataclass(frozen=True)
class Layout:
    """Where tile ``n`` of a page lies: a grid fixed by the frame's shape and the page's tile count,
    so a tile can be found again (finish dims tiles of pages drawn by clip jobs)."""

    tile_width: int
    tile_height: int
    columns: int = COLUMNS

    @classmethod
    def for_frame(cls, width: int, height: int) -> Layout:
        return cls(TILE_WIDTH, max(8, round(TILE_WIDTH * height / max(width, 1) / 2) * 2))

    def for_tiles(self, tiles: int) -> Layout:
        """This layout for a page of ``tiles``: more columns where 12 would make it too tall."""
        max_rows = MAX_PAGE_HEIGHT // (self.tile_height + LABEL_HEIGHT)
        return Layout(self.tile_width, self.tile_height, max(COLUMNS, math.ceil(tiles / max_rows)))

    def origin(self, position: int) -> tuple[int, int]:
        row, column = divmod(position, self.columns)
        return column * self.tile_width, row * (self.tile_height + LABEL_HEIGHT)

    def page_size(self, tiles: int) -> tuple[int, int]:
        rows = max(1, math.ceil(tiles / self.columns))
        return self.columns * self.tile_width, rows * (self.tile_height + LABEL_HEIGHT)


@dataclass
class Page:
    """The tiles of one segment, in order: (frame index, thumbnail, reason or None)."""

    number: int
    tiles: list[tuple[int, Image.Image, str | None]] = field(default_factory=list)

    @property
    def first_frame(self) -> int:
        return self.tiles[0][0]

    @property
    def last_frame(self) -> int:
        return self.tiles[-1][0]

    def render(self, layout: Layout) -> bytes:
        layout = layout.for_tiles(len(self.tiles))
        sheet = Image.new("RGB", layout.page_size(len(self.tiles)), BACKGROUND)
        draw = ImageDraw.Draw(sheet)
        for position, (index, tile, reason) in enumerate(self.tiles):
            x, y = layout.origin(position)
            sheet.paste(tile, (x, y))
            draw.text((x + 3, y + layout.tile_height + 1), str(index), fill=(200, 200, 200), font=_font())
            if reason is not None:
                _dim(sheet, draw, layout, position, reason)
        out = io.BytesIO()
        sheet.save(out, "JPEG", quality=PAGE_QUALITY, optimize=True)
        return out.getvalue()


def thumbnail(frame: VideoFrame, layout: Layout) -> Image.Image:
    """The frame as a tile (swscale to the tile's size; RGB). Area averaging: the right filter for
    shrinking ~13x, and a third of the default bilinear's time (0.57 against 1.6 ms at 720p)."""
    small = frame.reformat(width=layout.tile_width, height=layout.tile_height, format="rgb24", threads=1,
                           interpolation="AREA")  # fmt: skip
    return Image.fromarray(small.to_ndarray())


def mark(page_jpeg: bytes, layout: Layout, positions: dict[int, str]) -> bytes:
    """A rendered page with more tiles dimmed and labelled (decisions made after it was drawn);
    ``layout`` as the page was drawn (``for_tiles`` of its tile count)."""
    sheet = Image.open(io.BytesIO(page_jpeg)).convert("RGB")
    draw = ImageDraw.Draw(sheet)
    for position, reason in positions.items():
        _dim(sheet, draw, layout, position, reason)
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=PAGE_QUALITY, optimize=True)
    return out.getvalue()


def _dim(sheet: Image.Image, draw: ImageDraw.ImageDraw, layout: Layout, position: int, reason: str) -> None:
    x, y = layout.origin(position)
    box = (x, y, x + layout.tile_width, y + layout.tile_height)
    sheet.paste(sheet.crop(box).point(lambda v: int(v * DIM)), box)
    draw.text((x + 4, y + layout.tile_height // 2 - 6), reason, fill=(255, 90, 90), font=_font())


@dataclass(frozen=True)
class RenderedPage:
    number: int
    path: Path
    first_frame: int
    last_frame: int


class ReviewPages:
    """Collects tiles as verdicts arrive (late by at most the judge's lookahead, so out of order)
    and renders a page once tiles two pages on arrive: at most two pages of tiles in memory."""

    def __init__(self, workdir: Path, clip_seconds: float, width: int, height: int,
                 page_of: Callable[[int], int] | None = None) -> None:  # fmt: skip
        """``page_of``: the clip of a frame index, where clips are not cut by time (a copied stream)."""
        self.workdir, self.clip_seconds, self.page_of = workdir, clip_seconds, page_of
        self.layout = Layout.for_frame(width, height)
        self._open: dict[int, Page] = {}
        self.rendered: list[RenderedPage] = []

    def add(self, index: int, seconds: float, frame: VideoFrame, reason: str | None) -> None:
        number = self.page_of(index) if self.page_of is not None else math.floor(seconds / self.clip_seconds)
        self._open.setdefault(number, Page(number)).tiles.append((index, thumbnail(frame, self.layout), reason))
        for done in [n for n in self._open if n <= number - 2]:
            self._render(done)

    def finish(self) -> list[RenderedPage]:
        for number in sorted(self._open):
            self._render(number)
        return sorted(self.rendered, key=lambda p: p.number)

    def _render(self, number: int) -> None:
        page = self._open.pop(number)
        page.tiles.sort(key=lambda t: t[0])
        path = self.workdir / f"review-{number:03d}.jpg"
        path.write_bytes(page.render(self.layout))
        self.rendered.append(RenderedPage(number, path, page.first_frame, page.last_frame))
