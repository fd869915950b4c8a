"""CloudWatch metrics as the function prints them (embedded metric format): names, units and
dimensions, per object and per outcome, and the cold start."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.local_aws import LocalAws, local_context
from devtools.readback import lavfi_video, make
from handler import app
from tests.integration.deployed import Deployed, deployed
from tests.integration.stack import Stack, make_stack

__all__ = ["deployed"]


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


def test_a_long_recording_emits_the_metrics_of_one_pass_once(deployed: Deployed, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Clip jobs and finish report what one pass reports (names, units, dimensions), each object's
    figures once; every log line of the clip-job functions carries its request id."""
    stack = deployed.stack
    src = make(tmp_path / "long.avi", *lavfi_video(5.2), "-vf", "drawbox=c=black:t=fill:enable='between(t,1,1.5)'",
               "-c:v", "mjpeg")  # fmt: skip
    log_lines = io.StringIO()
    handler = app.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(log_lines)
    try:
        (result,) = deployed.invoke(stack.upload(src, "cams/long.avi"))["done"]
        assert deployed.wait(result["execution"])["status"] == "SUCCEEDED"
        parallel = emf(capsys.readouterr().out)
        monkeypatch.delenv("STATE_MACHINE_ARN")  # the same recording, converted in one pass
        app.default_runtime.cache_clear()
        (done,) = app.lambda_handler(stack.upload(src, "cams/once.avi"), local_context())["done"]
        assert done["status"] == "converted"
        single = emf(capsys.readouterr().out)
    finally:
        handler.setStream(previous)

    def shapes(found: dict[str, list[Definition]]) -> set[tuple[str, str, str]]:
        return {(name, unit, json.dumps(sets)) for name, rows in found.items() for unit, sets, _ in rows}

    def totals(blobs: list[dict[str, Any]], names: set[str]) -> dict[tuple[str, str], float]:
        summed: dict[tuple[str, str], float] = {}
        for blob in blobs:
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                for metric in (m for m in directive["Metrics"] if m["Name"] in names):
                    dims = ",".join(f"{d}={blob[d]}" for ds in directive["Dimensions"] for d in ds if d != "service")
                    value = blob[metric["Name"]]
                    summed[(metric["Name"], dims)] = summed.get((metric["Name"], dims), 0) + sum(
                        value if isinstance(value, list) else [value]
                    )
        return summed

    found, one_pass = definitions(parallel), definitions(single)
    extra = {"ClipJobSeconds", "ColdStart"}  # the clip jobs' own timing; a cold start where there was one
    assert shapes({k: v for k, v in found.items() if k not in extra | {"Objects"}}) == shapes(
        {k: v for k, v in one_pass.items() if k not in extra | {"Objects"}}
    )
    per_object = {"FramesDecoded", "JpegsKept", "DecodeErrors", "MediaSeconds", "DeadFrames"}
    assert totals(parallel, per_object) == totals(single, per_object)
    assert totals(parallel, per_object)[("FramesDecoded", "")] == 130
    outcomes = sorted(dims["outcome"] for _, _, dims in found["Objects"])
    assert outcomes == ["converted", "handed_off"]
    # One value per clip job (clip jobs running at once in this process may share a flush).
    clip_values = [b["ClipJobSeconds"] for b in parallel if "ClipJobSeconds" in b]
    assert sum(len(v) if isinstance(v, list) else 1 for v in clip_values) == 6
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines() if line.startswith("{")]
    tasks = [line for line in lines if line.get("function_name") and line.get("task") in ("clip", "finish")]
    assert {line["task"] for line in tasks} == {"clip", "finish"}
    assert all(line.get("function_request_id") for line in lines if line.get("function_name"))
