"""CloudWatch metrics as the function prints them (embedded metric format): names, units and
dimensions, per object and per outcome, and the cold start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.local_aws import LocalAws, local_context
from devtools.readback import lavfi_video, make
from handler import app
from tests.integration.stack import Stack, make_stack


@pytest.fixture
def stack_env(aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    stack = make_stack(aws, tmp_path)
    s = stack.settings
    for name, value in {**aws.env, "VIDEO_BUCKET": s.video_bucket, "IMAGE_BUCKET": s.image_bucket,
                        "IDEMPOTENCY_TABLE": s.idempotency_table, "TMP_DIR": str(s.tmp_dir)}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    app.default_runtime.cache_clear()
    yield stack
    app.default_runtime.cache_clear()


def emf(out: str) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, filter(None, out.splitlines())) if "_aws" in line]


Definition = tuple[str, list[list[str]], dict[str, Any]]


def definitions(blobs: list[dict[str, Any]]) -> dict[str, list[Definition]]:
    """metric name -> every (unit, dimension sets, the blob's dimension values) it was sent with"""
    found: dict[str, list[Definition]] = {}
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "avi2mp4"
            for metric in directive["Metrics"]:
                dims = {d: blob[d] for ds in directive["Dimensions"] for d in ds}
                found.setdefault(metric["Name"], []).append((metric["Unit"], directive["Dimensions"], dims))
    return found


def test_metrics_of_a_conversion_and_a_rejection(stack_env: Stack, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    src = make(tmp_path / "a.avi", *lavfi_video(2.0), "-vf", "drawbox=c=black:t=fill:enable='between(t,1,1.5)'",
               "-c:v", "mjpeg")  # fmt: skip
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFF" + b"\x00" * 100)
    event = stack_env.upload(src, "cams/a.avi")
    event["Records"] += stack_env.upload(bad, "cams/bad.avi")["Records"]
    capsys.readouterr()

    app.lambda_handler(event, local_context())

    found = definitions(emf(capsys.readouterr().out))
    units = {name: rows[0][0] for name, rows in found.items()}
    assert units == {
        "FramesDecoded": "Count", "JpegsKept": "Count", "DecodeErrors": "Count", "MediaSeconds": "Seconds",
        "ConversionSeconds": "Seconds", "RealtimeFactor": "None", "BytesIn": "Bytes", "BytesOut": "Bytes",
        "DeadFrames": "Count", "Objects": "Count", "Records": "Count",
        **({"ColdStart": "Count"} if "ColdStart" in found else {}),
    }  # fmt: skip
    outcomes = sorted(dims["outcome"] for _, _, dims in found["Objects"])
    assert outcomes == ["converted", "rejected"]
    reasons = {dims["reason"] for _, _, dims in found["DeadFrames"]}
    assert reasons == {"black"}
    dimension_sets = {tuple(map(tuple, sets)) for rows in found.values() for _, sets, _ in rows}
    cold = {(("function_name", "service"),)} if "ColdStart" in found else set()
    assert dimension_sets == {(("service",),), (("service", "reason"),), (("service", "outcome"),)} | cold


def test_cold_start_is_counted_once(stack_env: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from aws_lambda_powertools.metrics.provider import cold_start

    cold_start.is_cold_start = True
    event = stack_env.upload(make(tmp_path / "a.avi", *lavfi_video(0.4), "-c:v", "mjpeg"), "a.avi")
    app.lambda_handler(event, local_context())
    app.lambda_handler(event, local_context())

    found = definitions(emf(capsys.readouterr().out))
    assert len(found["ColdStart"]) == 1
    assert found["ColdStart"][0][2]["function_name"] == "avi2mp4-local"
