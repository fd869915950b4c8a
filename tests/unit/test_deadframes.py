"""The pure judgements, on arrays built with numpy (no video involved)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from av.video.frame import VideoFrame

from avi2mp4.labeling.detector import DeadFrameDetector
from avi2mp4.labeling.judgements import block_spread, frame_difference, is_black, is_blank
from avi2mp4.labeling.thumbnail import luma_thumbnail
from avi2mp4.media.decode import DamageTracker
from avi2mp4.settings import DeadFrameThresholds
from devtools.readback import make

RNG = np.random.default_rng(3)


def noisy(level: float, sigma: float, shape: tuple[int, int] = (90, 160)) -> np.ndarray:
    return np.clip(RNG.normal(level, sigma, shape), 0, 255).astype(np.uint8)


def structured(shape: tuple[int, int] = (90, 160)) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    picture: np.ndarray = ((xx * 3 + yy * 2) % 256).astype(np.uint8)
    return picture


def test_black_is_blackdetects_rule() -> None:
    assert is_black(np.full((90, 160), 25, np.uint8))  # 10 % of 255 = 25.5
    assert not is_black(np.full((90, 160), 26, np.uint8))
    almost = np.zeros((100, 100), np.uint8)
    almost[:3, :] = 200  # 3 % bright: not black
    assert not is_black(almost)
    almost[1:, :] = 0  # 1 % bright: black
    assert is_black(almost)


@pytest.mark.parametrize("level", [0, 16, 128, 235, 255])
def test_flat_fields_are_blank_even_with_noise(level: int) -> None:
    assert is_blank(np.full((90, 160), level, np.uint8))
    assert is_blank(noisy(level, 6))
    assert block_spread(noisy(level, 6)) < 2.5


def test_pictures_with_structure_are_not_blank() -> None:
    assert not is_blank(structured())
    dim = (structured() // 8 + 10).astype(np.uint8)  # a low-contrast night picture
    assert not is_blank(dim)


def test_frame_difference() -> None:
    a = structured()
    assert frame_difference(a, a.copy()) == 0.0
    assert frame_difference(np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8)) == 1.0
    assert frame_difference(a, noisy(0, 0) + a) == 0.0


def frame_from(luma: np.ndarray, key: bool = True) -> VideoFrame:
    frame = VideoFrame.from_ndarray(luma, format="gray")
    frame.key_frame = key  # type: ignore[misc]  # writable in PyAV, read-only in its stubs
    return frame


def run(
    detector: DeadFrameDetector, frames: list[np.ndarray], damaged: frozenset[int] = frozenset()
) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for i, luma in enumerate(frames):
        for v in detector.observe(i, frame_from(luma), i in damaged):
            out[v.index] = v.reason
    for v in detector.finish():
        out[v.index] = v.reason
    return out


def every_frame(min_run: int = 10) -> DeadFrameDetector:
    return DeadFrameDetector(lambda i: True, min_run=min_run)


def test_frozen_run_keeps_its_first_frame_and_needs_one_stride() -> None:
    moving = [noisy(100, 40) for _ in range(5)]
    still = structured()
    frames = moving + [still] * 12 + moving + [still] * 3 + moving
    verdicts = run(every_frame(), frames)
    assert verdicts[5] is None, "the first frame of a frozen run is kept"
    assert all(verdicts[i] == "frozen" for i in range(6, 17))
    assert all(verdicts[i] is None for i in range(22, 25)), "a 3-frame repeat is an ordinary duplicate"


def test_every_verdict_arrives_within_the_lookahead() -> None:
    detector = DeadFrameDetector(lambda i: i % 10 == 0, min_run=10)
    still = structured()
    frames = [noisy(100, 40) for _ in range(5)] + [still] * 40
    decided_at: dict[int, int] = {}
    for i, luma in enumerate(frames):
        for v in detector.observe(i, frame_from(luma), False):
            decided_at[v.index] = i
    assert set(decided_at) == {0, 10, 20, 30, 40}
    assert all(at - index <= detector.lookahead_frames for index, at in decided_at.items())


def run_keys(detector: DeadFrameDetector, frames: list[tuple[np.ndarray, bool]]) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for i, (luma, key) in enumerate(frames):
        for v in detector.observe(i, frame_from(luma, key), False):
            out[v.index] = v.reason
    for v in detector.finish():
        out[v.index] = v.reason
    return out


def nudged(picture: np.ndarray, share: float) -> np.ndarray:
    """``picture`` with a few pixels one level up: a mean difference of about ``share`` / 255."""
    out = picture.copy()
    flat = out.reshape(-1)
    count = int(share * flat.size)
    flat[:count] = np.minimum(flat[:count].astype(np.int16) + 1, 255).astype(np.uint8)
    return out


def test_a_refresh_continues_a_freeze_only_if_the_frames_after_it_repeat_it() -> None:
    still = structured()
    live = [(noisy(100, 40), i == 0) for i in range(4)]
    stall = [(still, False)] * 12
    refreshed = nudged(still, 0.5)  # a keyframe re-encoding the frozen picture: differs a little
    resumed_live = [(nudged(still, 0.5 + 0.1 * i), False) for i in range(1, 6)]  # live, differs each frame
    # The scene resumes on the keyframe: it and what follows are live.
    verdicts = run_keys(every_frame(), [*live, *stall, (refreshed, True), *resumed_live])
    assert all(verdicts[i] == "frozen" for i in range(5, 16))
    assert all(verdicts[i] is None for i in range(16, 22)), verdicts
    # The keyframe only refreshed the freeze: the frames after it repeat it exactly.
    verdicts = run_keys(every_frame(), [*live, *stall, (refreshed, True), *[(refreshed, False)] * 5])
    assert all(verdicts[i] == "frozen" for i in range(5, 22)), verdicts


def test_an_encoder_converging_on_a_frozen_picture_starts_the_freeze() -> None:
    still = structured()
    moving = [(noisy(100, 40), i == 0) for i in range(5)]
    settling = [(nudged(still, 0.4), False), (nudged(still, 0.3), False)]  # coding error shrinking
    verdicts = run_keys(every_frame(), [*moving, (still, False), *settling, *[(nudged(still, 0.3), False)] * 12])
    assert verdicts[5] is None, "the last live frame is kept"
    assert all(verdicts[i] == "frozen" for i in range(6, 20)), verdicts
    # A live static scene whose frames differ by its noise, frame after frame, is not converging.
    static = [(nudged(still, 0.05 * (i % 2)) if i % 2 else nudged(still, 0.3), False) for i in range(12)]
    assert all(v is None for v in run_keys(every_frame(), [*moving, *static]).values())


def test_a_band_that_turned_flat_at_one_level_is_concealed() -> None:
    live = [structured() for _ in range(3)]
    damaged = structured()
    damaged[45:] = 128  # the decoder filled the rows below the damage with one gray
    verdicts = run(every_frame(), [*live, damaged, damaged.copy(), structured()])
    assert verdicts[3] == "concealed" and verdicts[4] == "concealed" and verdicts[5] is None
    # A flat band that was there all along (a wall, a sky) is the scene, not concealment.
    assert all(v is None for v in run(every_frame(), [damaged, damaged.copy(), damaged.copy()]).values())
    # Rows that went flat at many levels (a gradient) are no concealment either.
    graded = structured()
    graded[45:] = np.repeat(np.linspace(40, 200, 160).astype(np.uint8)[None, :], 45, axis=0)
    assert run(every_frame(), [*live, graded])[3] is None


def test_damaged_and_black_and_blank_have_reasons() -> None:
    frames = [structured(), np.zeros((90, 160), np.uint8), np.full((90, 160), 128, np.uint8), noisy(90, 50)]
    verdicts = run(every_frame(), frames, damaged=frozenset({3}))
    assert verdicts == {0: None, 1: "black", 2: "blank", 3: "damaged"}


def test_damage_tracker_clears_at_keyframe() -> None:
    tracker = DamageTracker()
    assert not tracker.is_damaged(frame_from(structured(), key=False))
    tracker.packet_failed()
    assert tracker.is_damaged(frame_from(structured(), key=False))
    assert not tracker.is_damaged(frame_from(structured(), key=True))
    assert not tracker.is_damaged(frame_from(structured(), key=False))


def test_thresholds_are_settings() -> None:
    lenient = DeadFrameDetector(lambda i: True, 10, DeadFrameThresholds(black_share=0.5))
    half_dark = np.zeros((90, 160), np.uint8)
    half_dark[:, 100:] = structured()[:, 100:]
    assert run(lenient, [half_dark]) == {0: "black"}
    assert run(every_frame(), [half_dark]) == {0: None}


@pytest.mark.parametrize(
    ("pix_fmt", "size"),
    [("pal8", (161, 121)), ("rgb555le", (320, 240)), ("bgr24", (33, 17)), ("gray", (320, 240)),
     ("yuv411p", (720, 480)), ("yuvj422p", (1280, 720)), ("yuv420p10le", (1920, 1080)), ("rgb24", (6, 4))],
)  # fmt: skip
def test_thumbnail_from_any_pixel_format(pix_fmt: str, size: tuple[int, int], tmp_path: Path) -> None:
    width, height = size
    if pix_fmt == "pal8":  # swscale cannot write palettes: decode one, as the pipeline would
        src = make(tmp_path / "pal8.avi", "-f", "lavfi", "-i", f"color=c=0xC8C8C8:size={width}x{height}:d=0.04",
                   "-c:v", "rawvideo", "-pix_fmt", "pal8")  # fmt: skip
        with av.open(str(src)) as container:
            frame = next(container.decode(video=0))
        assert frame.format.name == "pal8"
    else:
        rgb = VideoFrame.from_ndarray(np.full((height, width, 3), (200, 200, 200), np.uint8), format="rgb24")
        frame = rgb.reformat(format=pix_fmt)
    luma = luma_thumbnail(frame)
    assert luma.dtype == np.uint8 and luma.ndim == 2 and luma.shape[1] <= 160
    assert abs(float(luma.mean()) - 200) < 6, "range handled: mid-light gray stays mid-light gray"
    detector = every_frame()
    assert run(detector, []) == {}
    (verdict,) = detector.observe(0, frame, False)
    assert verdict.reason == "blank"
