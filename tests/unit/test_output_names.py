"""Output names are injective over source names: two sources whose layouts differ never share an
output name, and neither owns (so never removes) the other's. Sources with the same layout (the
same stem but for the extension's case) are refused by the claim before anything is written."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote_to_bytes

from hypothesis import example, given, settings
from hypothesis import strategies as st

from avi2mp4.outputs.names import OutputLayout, safe_stem

# Pieces of names that look like our own suffixes, escapes and look-alikes (case, NFC/NFD).
PIECES = [
    "rec", "REC", "Rec", "_part000", "_part1234", "_part", "_review000", ".review", ".manifest", ".rejected",
    ".claim", ".work", ".mp4", "_f000120", "%FF", "%25", "%2E", "%5F", "%", "_", ".", "-", " ", "0",
    unicodedata.normalize("NFC", "é"), unicodedata.normalize("NFD", "é"), "\udcff", "\udc80", "\x01",
]  # fmt: skip
STEMS = st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join)
KEYS = st.tuples(st.sampled_from(["", "cams/", "cams/rec/", "%FF/", "\udcff/"]), STEMS,
                 st.sampled_from([".avi", ".AVI", ".Avi"])).map("".join)  # fmt: skip


def names(layout: OutputLayout) -> set[tuple[str, str]]:
    """Every name a source's outputs and work objects can take (numbers at their edges)."""
    video = {layout.manifest_key, layout.claim_key, layout.rejection_key, layout.plan_key, layout.failure_key(None)}
    for n in (0, 1, 999, 1000, 123456):
        video |= {
            layout.clip_key(n, True),
            layout.review_key(n, True),
            layout.clip_report_key(n),
            layout.failure_key(n),
        }
    video |= {layout.clip_key(0, False), layout.review_key(0, False)}
    image = {layout.jpeg_key(n) for n in (0, 10, 999999, 1000000, 12345678)}
    return {("video", k) for k in video} | {("image", k) for k in image}


@settings(max_examples=3000, deadline=None)
@given(KEYS, KEYS)
@example("rec.avi", "rec_part000.avi")
@example("%FF.avi", "\udcff.avi")
@example("rec.avi", "rec.review.avi")
@example("rec.avi", "rec_review000.avi")
@example("rec.avi", "rec.manifest.avi")
@example("cams/rec.avi", "cams/rec.AVI")
def test_output_names_are_injective(a: str, b: str) -> None:
    la, lb = OutputLayout.for_key(a), OutputLayout.for_key(b)
    if la == lb:
        assert a[:-4] == b[:-4], "only the extension's case may differ (the claim refuses the second)"
        return
    assert names(la).isdisjoint(names(lb)), (a, b)
    assert not any(la.owns(target, key) for target, key in names(lb)), (a, b)


@given(STEMS)
def test_a_stem_is_written_reversibly(stem: str) -> None:
    raw = stem.encode("utf-8", "surrogateescape")
    assert unquote_to_bytes(safe_stem(stem)) == raw
    assert "/" not in safe_stem(stem) and set(safe_stem(stem)) != {"."}
