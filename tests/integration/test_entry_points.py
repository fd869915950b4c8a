"""The ways users reach the function: ``lambda_handler`` configured by its environment (as in
Lambda), ``avi2mp4 invoke`` on a sample event, and the image's dependency set on its own."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from avi2mp4.errors import ConfigError
from devtools.local_aws import LocalAws, local_context
from devtools.readback import lavfi_video, make
from handler import app
from tests.events import load_event, retarget
from tests.integration.stack import make_stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lambda_env(aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    stack = make_stack(aws, tmp_path)
    s = stack.settings
    env = {**aws.env, "VIDEO_BUCKET": s.video_bucket, "IMAGE_BUCKET": s.image_bucket,
           "IDEMPOTENCY_TABLE": s.idempotency_table, "TMP_DIR": str(s.tmp_dir),
           "SOURCE_BUCKET": stack.source}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app.default_runtime.cache_clear()
    yield env
    app.default_runtime.cache_clear()


def upload_for(event: dict[str, Any], aws: LocalAws, bucket: str, src: Path) -> dict[str, Any]:
    from urllib.parse import unquote_plus

    s3 = aws.s3()
    for record in event["Records"]:
        key = unquote_plus(record["s3"]["object"]["key"])
        s3.upload_file(str(src), bucket, key)
    return retarget(event, bucket)


def test_lambda_handler_on_sample_event(aws: LocalAws, lambda_env: dict[str, str], tmp_path: Path) -> None:
    log_lines = io.StringIO()
    handler = app.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(log_lines)
    src = make(tmp_path / "s.avi", *lavfi_video(0.4), "-c:v", "mjpeg")
    event = upload_for(load_event("key-with-spaces-and-unicode.json"), aws, lambda_env["SOURCE_BUCKET"], src)

    try:
        result = app.lambda_handler(event, local_context())
    finally:
        handler.setStream(previous)

    assert result["done"][0]["manifest"] == f"s3://{lambda_env['VIDEO_BUCKET']}/cams/site 1/rec ünï+plus.manifest.json"
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    done = [line for line in lines if line.get("message") == "done"]
    assert done and done[0]["s3_key"] == "cams/site 1/rec ünï+plus.avi"
    assert done[0]["function_request_id"], "every line carries the request id"


def test_configuration_error_names_the_variable(lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAME_STEP", "every")

    with pytest.raises(ConfigError, match="FRAME_STEP"):
        app.lambda_handler(load_event("put.json"), local_context())


def _invoke_on(sample: str, src: Path, aws: LocalAws, lambda_env: dict[str, str],
               *flags: str) -> tuple[Path, subprocess.CompletedProcess[str]]:  # fmt: skip
    """``avi2mp4 invoke`` on the sample event ``sample`` naming ``src``, uploaded to the source bucket."""
    path = src.with_suffix(".event.json")
    path.write_text(json.dumps(upload_for(load_event(sample), aws, lambda_env["SOURCE_BUCKET"], src)))
    proc = subprocess.run([sys.executable, "-m", "avi2mp4", "invoke", str(path), *flags], capture_output=True,
                          text=True, env={**os.environ, **lambda_env}, timeout=120, check=False)  # fmt: skip
    return path, proc


def test_invoke_command(aws: LocalAws, lambda_env: dict[str, str], tmp_path: Path) -> None:
    src = make(tmp_path / "s.avi", *lavfi_video(0.4), "-c:v", "mjpeg")

    path, proc = _invoke_on("two-records.json", src, aws, lambda_env)

    assert proc.returncode == 0, proc.stderr
    bucket, video = lambda_env["SOURCE_BUCKET"], lambda_env["VIDEO_BUCKET"]
    assert proc.stdout.splitlines() == [
        f"converted s3://{bucket}/cams/a.avi: s3://{video}/cams/a.manifest.json",
        f"converted s3://{bucket}/cams/b.avi: s3://{video}/cams/b.manifest.json",
        "converted 2",
    ]
    assert "{" not in proc.stderr, "the function's JSON logs only with -v"
    verbose = subprocess.run([sys.executable, "-m", "avi2mp4", "invoke", str(path), "-v", "--json"],
                             capture_output=True, text=True, env={**os.environ, **lambda_env}, timeout=120,
                             check=False)  # fmt: skip
    assert verbose.returncode == 0, verbose.stderr
    assert [d["status"] for d in json.loads(verbose.stdout)["done"]] == ["converted"] * 2  # the idempotent answer
    assert any(json.loads(line).get("message") == "done" for line in verbose.stderr.splitlines() if line[:1] == "{")


def test_invoke_says_what_was_rejected_and_exits_non_zero(aws: LocalAws, lambda_env: dict[str, str],
                                                          tmp_path: Path) -> None:  # fmt: skip
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")

    _, proc = _invoke_on("put.json", empty, aws, lambda_env)

    assert proc.returncode == 1, proc.stderr
    first, summary = proc.stdout.splitlines()
    assert first.startswith(f"rejected s3://{lambda_env['SOURCE_BUCKET']}/") and "EmptyFile" in first
    assert summary == "rejected 1"


def test_invoke_says_once_what_setting_is_missing(aws: LocalAws, lambda_env: dict[str, str]) -> None:
    env = {k: v for k, v in {**os.environ, **lambda_env}.items() if k != "IDEMPOTENCY_TABLE"}
    proc = subprocess.run([sys.executable, "-m", "avi2mp4", "invoke", "events/put.json"], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.strip() == "avi2mp4: IDEMPOTENCY_TABLE is not set", proc.stderr


def test_invoke_refuses_real_aws_without_consent(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    proc = subprocess.run([sys.executable, "-m", "avi2mp4", "invoke", "events/put.json"], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 2 and "AWS_ENDPOINT_URL" in proc.stderr


def test_invoke_takes_per_service_endpoints(aws: LocalAws, lambda_env: dict[str, str], tmp_path: Path) -> None:
    """boto3 honours AWS_ENDPOINT_URL_S3 / _DYNAMODB; so does invoke, without a warning."""
    src = make(tmp_path / "s.avi", *lavfi_video(0.4), "-c:v", "mjpeg")
    event = upload_for(load_event("put.json"), aws, lambda_env["SOURCE_BUCKET"], src)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    env = {k: v for k, v in {**os.environ, **lambda_env}.items() if k != "AWS_ENDPOINT_URL"}
    env |= {"AWS_ENDPOINT_URL_S3": aws.endpoint, "AWS_ENDPOINT_URL_DYNAMODB": aws.endpoint}

    proc = subprocess.run([sys.executable, "-m", "avi2mp4", "invoke", str(path)], capture_output=True,
                          text=True, env=env, timeout=120, check=False)  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert "real AWS" not in proc.stderr
    assert proc.stdout.startswith("converted s3://")
