"""What a picture's numbers mean (matrix, primaries, transfer, range), and what the MP4 says.

Players read an untagged picture by its size: BT.709 for HD (1280 wide or more than 576 lines),
BT.601 for SD; so does this module, for the source and for the output. The output is SDR,
limited range, 8-bit 4:2:0, tagged in full (matrix, primaries, transfer, range): a source is
converted only where it differs (another matrix, a wider gamut). HDR has no tone mapper in PyAV's
FFmpeg (no zscale; ``colorspace`` knows no HLG or PQ): HLG is shown as its SDR-compatible picture
(ITU-R BT.2390: HLG was designed to be watched on SDR displays as BT.2020 SDR, so the gamut is
converted and the curve kept), PQ is kept and tagged as what it is; the manifest says which.

Pure functions over FFmpeg's enum values; ``PictureColour.of`` reads them off a decoded frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from av.video.frame import VideoFrame
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc

# FFmpeg's AVColorSpace (what frames and streams are tagged with; PyAV's ``Colorspace`` is
# swscale's numbering, where SMPTE 170M is 5, not 6), by the name the manifest uses.
BT709, FCC, BT470BG, SMPTE170M, SMPTE240M, BT2020_NCL = 1, 4, 5, 6, 7, 9
MATRIX_NAMES = {BT709: "bt709", FCC: "fcc", BT470BG: "bt470bg", SMPTE170M: "smpte170m", SMPTE240M: "smpte240m",
                BT2020_NCL: "bt2020nc"}  # fmt: skip
_SWS = {BT709: Colorspace.ITU709, FCC: Colorspace.FCC, BT470BG: Colorspace.ITU601, SMPTE170M: Colorspace.SMPTE170M,
        SMPTE240M: Colorspace.SMPTE240M, BT2020_NCL: Colorspace.BT2020}  # fmt: skip


def sws_matrix(matrix: int) -> Colorspace:
    """swscale's name for the matrix of an AVColorSpace value (BT.601's when it has none)."""
    return _SWS.get(matrix, Colorspace.ITU601)


PRIMARIES_NAMES: dict[int, str] = {
    ColorPrimaries.BT709: "bt709", ColorPrimaries.BT470M: "bt470m", ColorPrimaries.BT470BG: "bt470bg",
    ColorPrimaries.SMPTE170M: "smpte170m", ColorPrimaries.SMPTE240M: "smpte240m", ColorPrimaries.FILM: "film",
    ColorPrimaries.BT2020: "bt2020", ColorPrimaries.SMPTE431: "smpte431", ColorPrimaries.SMPTE432: "smpte432",
}  # fmt: skip
TRANSFER_NAMES: dict[int, str] = {
    ColorTrc.BT709: "bt709", ColorTrc.GAMMA22: "gamma22", ColorTrc.GAMMA28: "gamma28",
    ColorTrc.SMPTE170M: "smpte170m", ColorTrc.SMPTE240M: "smpte240m", ColorTrc.IEC61966_2_1: "srgb",
    ColorTrc.BT2020_10: "bt2020-10", ColorTrc.BT2020_12: "bt2020-12", ColorTrc.SMPTE2084: "smpte2084",
    ColorTrc.ARIB_STD_B67: "arib-std-b67",
}  # fmt: skip
SDR_PRIMARIES = {ColorPrimaries.BT709, ColorPrimaries.BT470M, ColorPrimaries.BT470BG, ColorPrimaries.SMPTE170M,
                 ColorPrimaries.SMPTE240M}  # fmt: skip
SDR_TRANSFERS = {ColorTrc.BT709, ColorTrc.SMPTE170M, ColorTrc.GAMMA22, ColorTrc.GAMMA28, ColorTrc.SMPTE240M,
                 ColorTrc.IEC61966_2_1, ColorTrc.BT2020_10, ColorTrc.BT2020_12}  # fmt: skip
HLG, PQ = ColorTrc.ARIB_STD_B67, ColorTrc.SMPTE2084
UNSPECIFIED = 2  # AVCOL_*_UNSPECIFIED, the same value in the three enums


def is_hd(width: int, height: int) -> bool:
    """How players tell HD from SD when nothing says which matrix a picture uses."""
    return width >= 1280 or height > 576


@dataclass(frozen=True)
class PictureColour:
    """A picture's colour as its tags say (``UNSPECIFIED`` where they are silent)."""

    matrix: int
    primaries: int
    transfer: int
    full_range: bool
    rgb: bool = False
    """An RGB picture (raw BGR, PNG, ...): no matrix to read it by."""

    @classmethod
    def of(cls, frame: VideoFrame) -> PictureColour:
        full = frame.color_range == ColorRange.JPEG or frame.format.name.startswith("yuvj")
        rgb = not frame.format.name.startswith(("yuv", "gray", "nv", "uyvy", "yuyv", "yvyu"))
        return cls(int(frame.colorspace), int(frame.color_primaries), int(frame.color_trc), full or rgb, rgb)


@dataclass(frozen=True)
class Rendition:
    """How a source's pictures are read (``source_matrix``: the matrix its numbers use, as tagged or
    as players assume) and what the MP4 carries (``output``: matrix, primaries, transfer)."""

    source_matrix: int
    source_full_range: bool
    gamut: str | None
    """None, or the ``colorspace`` filter's arguments converting a wide gamut to BT.709."""
    output_matrix: int
    output_primaries: int
    output_transfer: int
    note: str | None
    """For the manifest: what was converted or kept, and why."""

    @property
    def working_matrix(self) -> int:
        """The matrix of the pictures the chain hands on (after a gamut conversion: BT.709's)."""
        return BT709 if self.gamut else self.source_matrix

    def describe(self) -> dict[str, object]:
        return {
            "matrix": _name(MATRIX_NAMES, self.output_matrix),
            "primaries": _name(PRIMARIES_NAMES, self.output_primaries),
            "transfer": _name(TRANSFER_NAMES, self.output_transfer),
            "range": "limited",
            "note": self.note,
        }


def _name(names: Mapping[int, str], value: int) -> str:
    return "unspecified" if value == UNSPECIFIED else names.get(value, str(value))


def sd_tags(height: int) -> tuple[int, int, int]:
    """BT.601 as SD video tags it: 625-line (PAL) primaries for 576 lines, 525-line otherwise."""
    if height in (576, 288):
        return BT470BG, int(ColorPrimaries.BT470BG), int(ColorTrc.SMPTE170M)
    return SMPTE170M, int(ColorPrimaries.SMPTE170M), int(ColorTrc.SMPTE170M)


def hd_tags() -> tuple[int, int, int]:
    return BT709, int(ColorPrimaries.BT709), int(ColorTrc.BT709)


def render(colour: PictureColour, width: int, height: int) -> Rendition:
    """The rendition of a source whose first picture says ``colour``, at ``width``x``height``."""
    hd = is_hd(width, height)
    matrix, primaries, transfer = hd_tags() if hd else sd_tags(height)
    if colour.rgb:
        return Rendition(matrix, True, None, matrix, primaries, transfer, None)
    tagged = colour.matrix if colour.matrix in MATRIX_NAMES else None
    source_matrix = tagged if tagged is not None else matrix
    wide = colour.primaries == ColorPrimaries.BT2020 or colour.matrix == BT2020_NCL
    if colour.transfer == PQ:
        # No tone mapper here: the picture stays as it is, tagged as what it is, 8-bit.
        tags = (BT2020_NCL, int(ColorPrimaries.BT2020), int(PQ))
        pq = "PQ (HDR10) kept and tagged as it is: this FFmpeg build has no tone mapper"
        return Rendition(int(source_matrix), colour.full_range, None, *tags, pq)
    if wide or colour.transfer == HLG:
        # The colorspace filter takes BT.2020's gamut to BT.709's. HLG's curve is read as BT.2020's
        # SDR curve: the SDR-compatible picture HLG was designed to give (BT.2390), not a tone map.
        curve = "bt2020-10" if colour.transfer in (HLG, ColorTrc.BT2020_10, ColorTrc.UNSPECIFIED) else (
            TRANSFER_NAMES.get(ColorTrc(colour.transfer), "bt2020-10"))  # fmt: skip
        iall = f"iall=bt2020:ispace=bt2020ncl:itrc={curve}:irange={'pc' if colour.full_range else 'tv'}"
        gamut = f"{iall}:all=bt709:range=tv:format=yuv420p"
        why = ("HLG shown as SDR BT.709 (its SDR-compatible picture; no tone map in this FFmpeg build)"
                if colour.transfer == HLG else "BT.2020 converted to BT.709")  # fmt: skip
        return Rendition(int(source_matrix), colour.full_range, gamut, *hd_tags(), why)
    # SDR: keep what the source says its primaries and curve are; the matrix is the output's.
    if colour.primaries in SDR_PRIMARIES:
        primaries = colour.primaries
    if colour.transfer in SDR_TRANSFERS and colour.transfer not in (ColorTrc.BT2020_10, ColorTrc.BT2020_12):
        transfer = colour.transfer
    note: str | None = None
    if source_matrix != matrix and not (
        {source_matrix, matrix} <= {BT470BG, SMPTE170M}  # the same matrix
    ):
        note = (f"matrix converted from {MATRIX_NAMES[source_matrix]} to {MATRIX_NAMES[matrix]} "
                f"(what players assume at {width}x{height})")  # fmt: skip
    return Rendition(int(source_matrix), colour.full_range, None, matrix, int(primaries), int(transfer), note)


def as_tagged(colour: PictureColour, width: int, height: int) -> Rendition:
    """A copied stream's colour: its numbers untouched, its own tags kept in the stream; the MP4's
    ``colr`` box says them too, and for what the stream leaves untagged, what players assume."""
    assumed = render(colour, width, height)
    pairs = (("matrix", colour.matrix, assumed.source_matrix),
             ("primaries", colour.primaries, assumed.output_primaries),
             ("transfer", colour.transfer, assumed.output_transfer))  # fmt: skip
    silent = [name for name, tag, _ in pairs if tag == UNSPECIFIED]
    note = "copied: the stream's own tags"
    if silent:
        note += f"; the MP4 gives its untagged {', '.join(silent)} as players assume at {width}x{height}"
    matrix, primaries, transfer = (guess if tag == UNSPECIFIED else tag for _, tag, guess in pairs)
    return Rendition(assumed.source_matrix, colour.full_range, None, matrix, primaries, transfer, note)
