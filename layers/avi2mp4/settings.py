"""Every setting, defined once: name, type, default, allowed range, the environment variable and
CLI flag that carry it, and a one-line doc.

The settings are dataclass fields whose metadata is a ``Spec``. From that one definition come the
validation here, the function's environment reader (``handler/settings.py``), the CLI's flags
(``cli/main.py``) and the README's settings tables (``devtools/settings_doc.py``; a test fails when
the README drifts). A bad value names what carried it: the variable, the flag, or the field.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from .errors import ConfigError

VERIFY_PICTURES = ("keyframes", "reference", "all")  # = media.readback.Pictures (tested)
ON_OFF_AUTO = ("auto", "on", "off")
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow", "placebo",
)  # fmt: skip
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Spec:
    """How one setting is carried and checked. Ranges are inclusive unless ``above`` is used."""

    env: str
    doc: str
    flag: str | None = None
    """The CLI flag, or None where the CLI has none (or a grouped one, like ``--dead-threshold``)."""
    minimum: float | None = None
    above: float | None = None
    """Exclusive lower bound."""
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    """Must be set (no default works): the reader says so when it is missing."""

    def rule(self) -> str:
        """The allowed values in words (used in error messages and the README)."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        low = f"> {self.above:g}" if self.above is not None else None
        if self.minimum is not None and self.maximum is not None:
            return f"{self.minimum:g}..{self.maximum:g}"
        if low and self.maximum is not None:
            return f"{low} and <= {self.maximum:g}"
        if self.minimum is not None:
            return f">= {self.minimum:g}"
        return low or ""

    def violated(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or None."""
        if self.choices:
            return None if value in self.choices else f"must be {self.rule()}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        bad = (
            (isinstance(value, float) and not math.isfinite(value))
            or (self.minimum is not None and value < self.minimum)
            or (self.above is not None and value <= self.above)
            or (self.maximum is not None and value > self.maximum)
        )
        return f"must be {self.rule()}" if bad else None


def setting[T](default: T, env: str, doc: str, **spec: Any) -> T:
    """A dataclass field carrying its ``Spec``."""
    return field(default=default, metadata={"spec": Spec(env=env, doc=doc, **spec)})


@dataclass(frozen=True)
class Entry:
    """One setting as a reader sees it: the field it fills and how to parse its text."""

    name: str
    spec: Spec
    default: Any
    parse: Callable[[str], Any]
    type_name: str


def entries(cls: type) -> Iterator[Entry]:
    """The settings of dataclass ``cls`` in declaration order (nested groups are not expanded)."""
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("spec")
        if spec is None:
            continue
        kind = hints[f.name]
        parsers: dict[type, Callable[[str], Any]] = {bool: parse_bool, int: int, float: float, str: str}
        parse = parsers[kind]
        yield Entry(f.name, spec, f.default, parse, kind.__name__)


def parse_bool(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError("expected true or false")


def parse_text(entry: Entry, raw: str, carrier: str) -> Any:
    """``raw`` as the setting's type, in range; a ConfigError names ``carrier`` otherwise."""
    said = f"{carrier}={raw!r}" + ("" if entry.name in carrier else f" ({entry.name})")
    try:
        value = entry.parse(raw.strip())
    except ValueError as exc:
        what = ("an integer" if entry.type_name == "int" else "a number") if entry.type_name != "bool" else str(exc)
        raise ConfigError(f"{said}: expected {what}", field=entry.name) from exc
    problem = entry.spec.violated(value)
    if problem:
        raise ConfigError(f"{said}: {problem}", field=entry.name)
    return value


def validate(obj: object) -> None:
    """Check every field of a settings dataclass against its Spec (called by ``__post_init__``)."""
    for entry in entries(type(obj)):
        value = getattr(obj, entry.name)
        problem = entry.spec.violated(value)
        if problem:
            raise ConfigError(f"{entry.name}={value!r}: {problem}", field=entry.name)


def renamed(exc: ConfigError, names: Mapping[str, str]) -> ConfigError:
    """The same error, naming the variable or flag that carried its field."""
    carrier = names.get(exc.field or "")
    if carrier is None or str(exc).startswith(carrier):
        return exc
    return ConfigError(f"{carrier}: {exc}", field=exc.field)


@dataclass(frozen=True)
class DeadFrameThresholds:
    """When a frame counts as dead (labeling/). Measured on a full-range luma thumbnail."""

    black_level: float = setting(0.10, "DEAD_BLACK_LEVEL", minimum=0, maximum=1,
        doc="a pixel is black at or below this fraction of the luma range (blackdetect's pix_th)")  # fmt: skip
    black_share: float = setting(0.98, "DEAD_BLACK_SHARE", minimum=0, maximum=1,
        doc="a frame is black when this share of its pixels is (blackdetect's pic_th)")  # fmt: skip
    blank_spread: float = setting(2.5, "DEAD_BLANK_SPREAD", minimum=0, maximum=255,
        doc="a frame is blank (flat, any colour) when its 8x8 block means vary less than this (0-255)")  # fmt: skip
    repeat_diff: float = setting(0.00005, "DEAD_REPEAT_DIFF", minimum=0, maximum=1,
        doc="mean absolute difference (0-1) under which a frame repeats the previous one")  # fmt: skip
    refresh_diff: float = setting(0.02, "DEAD_REFRESH_DIFF", minimum=0, maximum=1,
        doc="allowance for a keyframe that re-encodes a frozen picture in an inter-coded stream")  # fmt: skip
    settle_diff: float = setting(0.002, "DEAD_SETTLE_DIFF", minimum=0, maximum=1,
        doc="a frame this close to the one before, then repeated exactly, is the first of a freeze")  # fmt: skip
    flat_std: float = setting(2.0, "DEAD_FLAT_STD", minimum=0, maximum=255,
        doc="an 8x8 block is flat when its pixels vary less than this (0-255)")  # fmt: skip
    concealed_share: float = setting(0.25, "DEAD_CONCEALED_SHARE", minimum=0.01, maximum=1,
        doc="a frame is concealed when a band of this share of its rows turned flat at one level")  # fmt: skip

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class PipelineConfig:
    """What the media pipeline does with one video. Units are in the names."""

    # Bounded so that clip numbers stay small: 1 s clips of a 24 h recording number 86,400.
    clip_seconds: float = setting(120.0, "CLIP_SECONDS", flag="--clip-seconds", minimum=1, maximum=86_400,
        doc="clip length when a video is split")  # fmt: skip
    split_after_seconds: float = setting(240.0, "SPLIT_AFTER_SECONDS", flag="--split-after", minimum=1,
        maximum=604_800, doc="videos longer than this are split into clips (must be >= the clip length)")  # fmt: skip
    frame_step: int = setting(10, "FRAME_STEP", flag="--frame-step", minimum=1, maximum=100_000,
        doc="every Nth decoded frame (0, N, 2N, ...) is a JPEG candidate")  # fmt: skip
    dead_frame_filter: bool = setting(True, "DEAD_FRAME_FILTER", flag="--no-dead-filter",
        doc="drop black, blank, frozen and damaged frames from the JPEG set")  # fmt: skip
    jpeg_quality: int = setting(90, "JPEG_QUALITY", flag="--jpeg-quality", minimum=1, maximum=95,
        doc="Pillow JPEG quality")  # fmt: skip
    min_sharpness: float = setting(0.0, "MIN_SHARPNESS", flag="--min-sharpness", minimum=0, maximum=1e9,
        doc="drop sampled frames less sharp than this (variance of the Laplacian, as the manifest's "
            "`sharpness`; 0 keeps all) with reason `blurred`")  # fmt: skip
    review_sheet: bool = setting(True, "REVIEW_SHEET", flag="--no-review-sheet",
        doc="write review sheets: every sampled frame as a thumbnail, dropped ones dimmed, reason on them")  # fmt: skip
    min_change: float = setting(0.0, "MIN_CHANGE", flag="--min-change", minimum=0, maximum=1,
        doc="drop a sampled frame whose mean difference (0-1) from the last kept JPEG is below this, "
            "with reason `near_duplicate` (0 keeps all)")  # fmt: skip
    x264_preset: str = setting("veryfast", "X264_PRESET", flag="--preset", choices=X264_PRESETS,
        doc="x264 speed/size trade-off")  # fmt: skip
    x264_crf: int = setting(23, "X264_CRF", flag="--crf", minimum=0, maximum=51,
        doc="x264 constant rate factor (quality; lower is better and larger)")  # fmt: skip
    verify_clips: bool = setting(True, "VERIFY_CLIPS", flag="--no-verify",
        doc="read every clip back with the independent ffmpeg binary (its packets counted and checksummed, "
            "keyframes and audio decoded without an error)")  # fmt: skip
    verify_pictures: str = setting("keyframes", "VERIFY_PICTURES", flag="--verify-pictures",
        choices=VERIFY_PICTURES, doc="which pictures the read-back decodes (every packet is counted and "
            "checksummed): `keyframes`, `reference` (every picture others are predicted from) or `all`; "
            "on 2 vCPU they add 1-3, 2-5 and 7-13 percent to the conversion time (bench)")  # fmt: skip
    video_copy: str = setting("auto", "VIDEO_COPY", flag="--copy", choices=("auto", "never"),
        doc="copy H.264 that browsers play (8-bit 4:2:0, limited range, Baseline/Main/High up to level 5.2, "
            "progressive, SDR) into the MP4 instead of encoding it; clips then start at the first IDR picture "
            "at or after each clip length")  # fmt: skip
    deinterlace: str = setting("auto", "DEINTERLACE", flag="--deinterlace", choices=ON_OFF_AUTO,
        doc="deinterlace (bwdif, one frame per frame) before the MP4, the JPEGs and the judge: `auto` when "
            "the codec (DV), the stream or its frames say interlaced, or combing is measured in the first "
            "moving frames")  # fmt: skip
    fallback_fps: float = 25.0
    """Frame rate assumed when the header's rate is missing or implausible."""
    max_fps: float = 240.0
    """Header rates above this are treated as bogus (see pitfalls: a header claiming 1000 fps)."""
    min_fps: float = 0.01
    """...and below this (one frame per 100 s; time-lapse cameras go down to one a minute)."""
    dead_thresholds: DeadFrameThresholds = field(default_factory=DeadFrameThresholds)

    def __post_init__(self) -> None:
        validate(self)
        if self.split_after_seconds < self.clip_seconds:
            raise ConfigError(f"split_after_seconds={self.split_after_seconds!r}: must be >= clip_seconds "
                              f"({self.clip_seconds})", field="split_after_seconds")  # fmt: skip
        if not 1 <= self.fallback_fps <= self.max_fps:
            raise ConfigError(f"fallback_fps={self.fallback_fps!r}: must be 1..max_fps ({self.max_fps})",
                              field="fallback_fps")  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineConfig:
        """The inverse of ``as_dict`` (a plan carries its settings to every clip job)."""
        values = dict(data)
        thresholds = DeadFrameThresholds(**values.pop("dead_thresholds", {}))
        return cls(dead_thresholds=thresholds, **values)


def read_env(env: Mapping[str, str]) -> PipelineConfig:
    """The pipeline settings from environment variables (the function's configuration)."""
    dead = _from_env(DeadFrameThresholds, env)
    return _from_env(PipelineConfig, env, dead_thresholds=dead)


def _from_env[D](cls: type[D], env: Mapping[str, str], **extra: Any) -> D:
    values = dict(extra)
    for entry in entries(cls):
        raw = env.get(entry.spec.env, "").strip()
        if raw:
            values[entry.name] = parse_text(entry, raw, entry.spec.env)
    try:
        return cls(**values)
    except ConfigError as exc:
        raise renamed(exc, {e.name: e.spec.env for e in entries(cls)}) from exc
