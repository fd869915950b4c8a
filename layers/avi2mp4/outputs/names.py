"""Every output name, in one place: pure functions from a source key to where its outputs go
(design.md, contracts). Work files in the pipeline's temp folder have names of their own; only
this module turns a clip or frame number into a key that users see."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

AVI_SUFFIX = ".avi"
LABELING_FILES = ("manifest.jsonl", "label-studio-tasks.json")
"""Files beside a video's JPEGs for labelling tools (``outputs.labeling_tools``)."""


_LITERAL_ESCAPE = re.compile(r"%(?=[0-9A-Fa-f]{2})")
_CLIP_ENDING = re.compile(r"_(?=part\d{3,}$)")


def safe_component(name: str) -> str:
    """One path component as an output name may carry it, reversibly and injectively
    (``urllib.parse.unquote`` gives the name back): bytes that are not UTF-8 (a local file system's
    surrogate escapes) become ``%XX``; a literal ``%`` that would read as such an escape becomes
    ``%25`` (so a file named ``%FF`` and one named by the byte 0xFF stay apart); a name of dots only
    (the stem of ``..avi``) becomes ``%2E``s, so no output lands outside its folder or hides as a
    dot file. Every other name is kept as it is."""
    if name and set(name) == {"."}:
        return "%2E" * len(name)
    name = _LITERAL_ESCAPE.sub("%25", name)
    return display_key(name)  # the surrogates stand for undecodable bytes, one each: %XX


def display_key(key: str) -> str:
    """A source key as JSON and people read it: bytes that are not UTF-8 (a local file system's
    surrogate escapes) as ``%XX``; every other character as it is (an S3 key stays exact)."""
    return "".join(f"%{ord(c) - 0xDC00:02X}" if "\udc80" <= c <= "\udcff" else c for c in key)


def safe_stem(stem: str) -> str:
    """A stem as output names carry it: ``safe_component``, and a stem ending like a clip's name
    (``rec_part000``) has that ``_`` written ``%5F``, so its whole video never takes the name of
    another source's clip (``rec.avi``'s ``rec_part000.mp4``). Every other family of output name
    ends in a way no stem can (``.review.jpg``, ``_review000.jpg``, ``.manifest.json``, ...)."""
    return _CLIP_ENDING.sub("%5F", safe_component(stem))


def safe_key(key: str) -> str:
    """``safe_component`` for every component of a ``/``-separated key."""
    return "/".join(safe_component(part) for part in key.split("/"))


def is_avi(key: str) -> bool:
    """``.avi`` in any case: ``.AVI`` and ``.Avi`` uploads are just as real."""
    return key.lower().endswith(AVI_SUFFIX) and len(key) > len(AVI_SUFFIX)


@dataclass(frozen=True)
class OutputLayout:
    """Where the outputs of one source key live, below the video and image roots.

    ``cams/site 1/rec-001.avi`` -> prefix ``cams/site 1/``, stem ``rec-001``.
    """

    prefix: str
    stem: str

    @classmethod
    def for_key(cls, key: str) -> OutputLayout:
        path = PurePosixPath(key)
        parent = str(path.parent)
        prefix = "" if parent in (".", "/") else parent.strip("/") + "/"
        stem = path.name[: -len(path.suffix)] if path.suffix else path.name
        return cls(prefix=safe_key(prefix), stem=safe_stem(stem))

    def key(self, name: str) -> str:
        """Full key of an output named relative to the prefix (``rec.mp4``, ``rec/rec_f000010.jpg``)."""
        return f"{self.prefix}{name}"

    def clip_key(self, index: int, split: bool) -> str:
        """``rec.mp4`` for a video kept whole, ``rec_part000.mp4``... for the clips of a split one."""
        return self.key(f"{self.stem}_part{index:03d}.mp4" if split else f"{self.stem}.mp4")

    def jpeg_key(self, frame_index: int) -> str:
        """``rec/rec_f000120.jpg``: the source frame index (0-based, presentation order)."""
        return self.key(f"{self.stem}/{self.stem}_f{frame_index:06d}.jpg")

    def review_key(self, page: int, paged: bool) -> str:
        """``rec.review.jpg`` for a one-page sheet, ``rec_review000.jpg``... (one per 120 s segment)."""
        return self.key(f"{self.stem}_review{page:03d}.jpg" if paged else f"{self.stem}.review.jpg")

    @property
    def manifest_key(self) -> str:
        return self.key(f"{self.stem}.manifest.json")

    @property
    def claim_key(self) -> str:
        """Held while a conversion writes under the prefix (two sources never write at once)."""
        return self.key(f"{self.stem}.claim.json")

    def work_key(self, name: str) -> str:
        """A clip-job path's own objects (the plan, each clip job's report): ``rec.work/plan.json``.
        Finish removes them; their presence without a manifest means "not complete"."""
        return self.key(f"{self.stem}.work/{name}")

    @property
    def plan_key(self) -> str:
        return self.work_key("plan.json")

    def clip_report_key(self, clip: int) -> str:
        return self.work_key(f"clip{clip:03d}.json")

    def failure_key(self, step: int | None) -> str:
        """Why a clip job (``step``: its clip number) or finish (None) failed for good: what the
        clean-up reads to decide (Step Functions hands it no error of a Distributed Map's item)."""
        return self.work_key(f"failed-clip{step:03d}.json" if step is not None else "failed-finish.json")

    @property
    def rejection_key(self) -> str:
        """Where a rejected source's reason is recorded (in place of a manifest)."""
        return self.key(f"{self.stem}.rejected.json")

    @property
    def video_listing_prefix(self) -> str:
        """Lists every video-bucket key this layout can own (and others' too: filter with ``owns``)."""
        return self.key(self.stem)

    @property
    def image_folder(self) -> str:
        return self.key(f"{self.stem}/")

    def labeling_key(self, name: str) -> str:
        """A labelling tool's file beside the JPEGs (``outputs.labeling_tools``: one of ``LABELING_FILES``)."""
        assert name in LABELING_FILES, name
        return f"{self.image_folder}{name}"

    def longest_names(self) -> list[str]:
        """Each family of name at its longest (numbers as large as a recording can need)."""
        most = 10**6 - 1  # clips, pages: 6 digits cover a week of 1 s clips
        return [self.jpeg_key(10**10 - 1), self.failure_key(most), self.clip_report_key(most),
                self.clip_key(most, True), self.review_key(most, True), self.review_key(0, False),
                self.manifest_key, self.rejection_key, self.claim_key, self.plan_key]  # fmt: skip

    def too_long(self, max_key_bytes: int, max_name_bytes: int) -> str | None:
        """Why some output's key, or a ``/``-separated part of it, would pass a store's limits."""
        for key in self.longest_names():
            if len(key.encode()) > max_key_bytes:
                return (
                    f"its output keys reach {len(key.encode())} bytes ({key[:48]}...); the store takes {max_key_bytes}"
                )
            for part in key.split("/"):
                if len(part.encode()) > max_name_bytes:
                    return (f"its output names reach {len(part.encode())} bytes ({part[:48]}...); the store takes "
                            f"{max_name_bytes}")  # fmt: skip
        return None

    def owns(self, target: str, key: str) -> bool:
        """Whether ``key`` is a name this layout gives its outputs (clip, part, JPEG, manifest)."""
        stem = re.escape(self.stem)
        if target == "image":
            files = "|".join(re.escape(name) for name in LABELING_FILES)
            return re.fullmatch(rf"{re.escape(self.image_folder)}({stem}_f\d{{6,}}\.jpg|{files})", key) is not None
        names = (
            rf"{re.escape(self.prefix)}{stem}(\.mp4|_part\d{{3,}}\.mp4|\.manifest\.json|\.rejected\.json|\.claim\.json"
            r"|\.review\.jpg|_review\d{3,}\.jpg"
            r"|\.work/plan\.json|\.work/clip\d{3,}\.json|\.work/failed-(clip\d{3,}|finish)\.json)"
        )
        return re.fullmatch(names, key) is not None
