"""A conversion that would outlast the invocation stops while there is time to clean up: no clips or
JPEGs without a manifest, the source kept, the reason recorded (a 900 s kill would skip finally)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from devtools.local_aws import LocalAws, LocalContext
from devtools.readback import lavfi_video, make
from handler.app import handle_event
from tests.integration.stack import make_stack


@dataclass
class ShrinkingContext(LocalContext):
    """Lambda's clock, made to run one second per look: the budget runs out after ``looks`` looks,
    whatever the machine's speed."""

    looks: int = 0

    def get_remaining_time_in_millis(self) -> int:
        self.looks += 1
        return (900 - self.looks) * 1000


def test_time_runs_out_mid_conversion(aws: LocalAws, tmp_path: Path) -> None:
    stack = make_stack(aws, tmp_path)  # 1 s clips: several are uploaded before time runs out
    src = make(tmp_path / "long.avi", *lavfi_video(40.0), "-c:v", "mjpeg")  # 1000 frames
    event = stack.upload(src, "cams/long.avi")
    context = ShrinkingContext()

    result = handle_event(event, cast("LambdaContext", context), stack.runtime)

    (rejected,) = result["rejected"]
    assert rejected["reason"].startswith("TimeBudgetExceeded:") and "more memory" in rejected["reason"]
    assert 400 < context.looks < 900, "stopped mid-way, with 60 s (the reserve) still left"
    assert stack.keys(stack.settings.video_bucket) == ["cams/long.rejected.json"]
    assert stack.keys(stack.settings.image_bucket) == []
    assert stack.exists(stack.source, "cams/long.avi")
    assert list(stack.settings.tmp_dir.iterdir()) == []
