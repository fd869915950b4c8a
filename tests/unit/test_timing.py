from __future__ import annotations

from fractions import Fraction

from avi2mp4.media.timing import FrameClock, frame_ticks


def drive(clock: FrameClock, packets: list[int | None], frames_after: list[int]) -> list[int]:
    """Push packet timestamps; after packet i, the decoder emits ``frames_after[i]`` frames."""
    out: list[int] = []
    for ts, emitted in zip(packets, frames_after, strict=True):
        clock.push(ts)
        out += [clock.next() for _ in range(emitted)]
    return out


def test_b_frame_reorder_gives_monotonic_times() -> None:
    # H.264 in AVI: packets carry dts-like stamps; the decoder delays output by two frames.
    times = drive(FrameClock(1), [1, 2, 3, 4, 5, 6, None, None], [0, 0, 1, 1, 1, 1, 1, 1])
    assert times == [0, 1, 2, 3, 4, 5]


def test_out_of_order_packet_pts_are_sorted() -> None:
    # Matroska with B-frames: packet pts 0 160 80 40 120; frames come out in display order.
    times = drive(FrameClock(40), [0, 160, 80, 40, 120], [1, 0, 0, 1, 3])
    assert times == [0, 40, 80, 120, 160]


def test_gaps_are_kept() -> None:
    # VFR capture: slots 3-5 were zero-byte chunks, so no timestamp was pushed for them.
    assert drive(FrameClock(1), [0, 1, 2, 6, 7], [1, 1, 1, 1, 1]) == [0, 1, 2, 6, 7]


def test_dry_heap_and_duplicates_step_one_frame() -> None:
    clock = FrameClock(2)
    clock.push(10)
    clock.push(10)
    assert [clock.next(), clock.next(), clock.next()] == [0, 2, 4]


def test_forgotten_packet_does_not_shift_later_frames() -> None:
    clock = FrameClock(1)
    for ts in (0, 1, 2):
        clock.push(ts)
    clock.forget(1)  # packet 1 failed to decode: it yields no frame
    assert [clock.next(), clock.next()] == [0, 2]


def test_origin_is_the_first_frame() -> None:
    assert drive(FrameClock(1), [3, 4], [1, 1]) == [0, 1]


def test_frame_ticks() -> None:
    assert frame_ticks(Fraction(1, 1000), Fraction(25)) == 40
    assert frame_ticks(Fraction(1001, 30000), Fraction(30000, 1001)) == 1
    assert frame_ticks(Fraction(1, 25), Fraction(1000)) == 1
