"""The function's outputs in S3: sources never share them, a re-upload replaces them exactly, a
missing source answers 404 or 403 and both mean "gone", and a store without checksums still has
every byte proven."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from avi2mp4.errors import SourceGone, StorageError, VerificationError
from avi2mp4.settings import PipelineConfig
from avi2mp4.storage.s3 import S3Store, head_source
from devtools.local_aws import REGION, LocalAws
from devtools.readback import lavfi_video, make
from handler.app import ConversionFailed
from tests.integration.stack import Stack, make_stack


def manifest_listing(stack: Stack, key: str) -> tuple[set[str], set[str]]:
    body = stack.s3.get_object(Bucket=stack.settings.video_bucket, Key=key)["Body"].read()
    data = json.loads(body)
    video = {c["key"] for c in data["clips"]} | {r["key"] for r in data["review_sheets"]} | {key}
    return video, {f["key"] for f in data["frames"]} | {t["key"] for t in data["labeling_tools"].values()}


def test_extension_case_twins_do_not_share_outputs(stack: Stack, tmp_path: Path) -> None:
    first = stack.invoke(stack.upload(make(tmp_path / "a.avi", *lavfi_video(1.0), "-c:v", "mjpeg"), "cam/rec.avi"))
    assert first["done"][0]["status"] == "converted"
    images_before = stack.keys(stack.settings.image_bucket)

    second = stack.invoke(stack.upload(make(tmp_path / "b.avi", *lavfi_video(1.5), "-c:v", "mjpeg"), "cam/rec.AVI"))

    (rejected,) = second["rejected"]
    assert rejected["reason"].startswith("OutputConflict:") and "cam/rec.avi" in rejected["reason"]
    assert stack.exists(stack.source, "cam/rec.AVI"), "the rejected source is kept"
    assert stack.keys(stack.settings.image_bucket) == images_before
    video, _ = manifest_listing(stack, "cam/rec.manifest.json")
    assert set(stack.keys(stack.settings.video_bucket)) == video | {"cam/rec.rejected.json"}


def test_a_shorter_reupload_replaces_every_output(stack: Stack, tmp_path: Path) -> None:
    long = make(tmp_path / "long.avi", *lavfi_video(3.0), "-c:v", "mjpeg")  # 3 clips (1 s), 8 JPEGs
    assert stack.invoke(stack.upload(long, "cam/rec.avi"))["done"][0]["clips"][2].endswith("rec_part002.mp4")
    short = make(tmp_path / "short.avi", *lavfi_video(1.0), "-c:v", "mjpeg")

    again = stack.invoke(stack.upload(short, "cam/rec.avi"))

    assert again["done"][0]["status"] == "converted"
    video, images = manifest_listing(stack, "cam/rec.manifest.json")
    assert set(stack.keys(stack.settings.video_bucket)) == video == {"cam/rec.mp4", "cam/rec.manifest.json",
                                                                      "cam/rec.review.jpg"}  # fmt: skip
    assert set(stack.keys(stack.settings.image_bucket)) == images and len(images) == 3 + 2  # JPEGs, tool files


@pytest.mark.parametrize("key", ["cam/a\x01b.avi", "cam/c\rd.avi", "cam/e\x1b[31mf.avi"])
def test_keys_with_control_characters_convert_and_rerun_cleanly(stack: Stack, tmp_path: Path, key: str) -> None:
    """DeleteObjects carries its keys in XML, which cannot hold most control characters: a run whose
    stale outputs had such names failed after its manifest and left it behind, complete-looking."""
    long = make(tmp_path / "long.avi", *lavfi_video(3.0), "-c:v", "mjpeg")
    assert stack.invoke(stack.upload(long, key))["done"][0]["status"] == "converted"
    short = make(tmp_path / "short.avi", *lavfi_video(1.0), "-c:v", "mjpeg")

    again = stack.invoke(stack.upload(short, key))

    assert again["done"][0]["status"] == "converted" and again["done"][0]["source_deleted"]
    manifest = key.removesuffix(".avi") + ".manifest.json"
    video, images = manifest_listing(stack, manifest)
    assert set(stack.keys(stack.settings.video_bucket)) == video and len(video) == 3
    assert set(stack.keys(stack.settings.image_bucket)) == images and len(images) == 3 + 2  # JPEGs, tool files


def test_a_failure_before_the_manifest_leaves_nothing_under_a_control_character_name(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from avi2mp4.conversion import one_pass

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StorageError("S3 went away before the manifest")

    monkeypatch.setattr(one_pass, "build_manifest", broken)
    event = stack.upload(make(tmp_path / "a.avi", *lavfi_video(3.0), "-c:v", "mjpeg"), "cam/a\x01b.avi")

    with pytest.raises(ConversionFailed):
        stack.invoke(event)

    assert stack.keys(stack.settings.video_bucket) == [] and stack.keys(stack.settings.image_bucket) == []
    assert stack.keys(stack.source) == ["cam/a\x01b.avi"]


# ---- a missing source: 404 with s3:ListBucket, 403 without ---------------------------------------
class _Denying(BaseHTTPRequestHandler):
    """Real S3's answers to a caller that may not read a missing key: HEAD 403; a listing either
    empty (the caller has s3:ListBucket) or 403 too."""

    may_list = True

    def do_HEAD(self) -> None:
        self.send_response(403)
        self.end_headers()

    def do_GET(self) -> None:
        if not self.may_list:
            body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            self.send_response(403)
        else:
            body = (b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>src</Name><Prefix>k.avi'
                    b"</Prefix><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated>"
                    b"</ListBucketResult>")  # fmt: skip
            self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def denying_s3() -> Iterator[tuple[Any, type[_Denying]]]:
    handler = type("Handler", (_Denying,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{server.server_address[1]}", region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    yield client, handler
    server.shutdown()


def test_missing_source_answers_404_or_403_and_both_mean_gone(aws: LocalAws, denying_s3: Any) -> None:
    with pytest.raises(SourceGone):  # moto, like S3 to a caller with s3:ListBucket: 404
        head_source(aws.s3(), "no-such-bucket-for-sure", "k.avi")
    client, handler = denying_s3
    with pytest.raises(SourceGone):  # 403 on HEAD, but the listing shows the key is not there
        head_source(client, "src", "k.avi")
    handler.may_list = False
    with pytest.raises(StorageError, match="s3:ListBucket") as denied:  # a real permission problem
        head_source(client, "src", "k.avi")
    assert not isinstance(denied.value, SourceGone)


# ---- a store that keeps no checksums ------------------------------------------------------------
def test_without_checksums_the_bytes_are_read_back(aws: LocalAws, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    s3 = aws.s3()
    s3.meta.events.register("after-call.s3.HeadObject", lambda parsed, **_: parsed.pop("ChecksumSHA256", None))
    stack = make_stack(aws, tmp_path, PipelineConfig(), s3=s3)
    src = make(tmp_path / "a.avi", *lavfi_video(1.0), "-c:v", "mjpeg")

    with caplog.at_level(logging.WARNING):
        result = stack.invoke(stack.upload(src, "cam/a.avi"))

    assert result["done"][0]["status"] == "converted"
    said = [r for r in caplog.records if "returns no SHA-256 checksum" in r.getMessage()]
    assert len(said) == 1, "said once per store, not per object"
    # ...and the read-back proves the bytes: an object changed behind the store's back is caught.
    tamper = aws.s3()
    store = S3Store(s3, stack.settings.video_bucket, stack.settings.image_bucket)

    def change_it(params: dict[str, Any], **_: Any) -> None:
        tamper.put_object(Bucket=params["Bucket"], Key=params["Key"], Body=b"y" * 5, Metadata={"sha256": "0" * 64})

    s3.meta.events.register("before-parameter-build.s3.HeadObject", change_it)
    with pytest.raises(VerificationError, match="read back differ"):
        store.put_bytes("video", "x.json", b"x" * 5, "0" * 64, "application/json")


def test_twins_converted_at_the_same_time_do_not_mix(stack: Stack, tmp_path: Path) -> None:
    """cam/rec.AVI is being converted (its claim is held) when cam/rec.avi arrives: refused, untouched."""
    held = json.dumps({"source": {"bucket": stack.source, "key": "cam/rec.AVI"}, "expires_at": time.time() + 600})
    stack.s3.put_object(Bucket=stack.settings.video_bucket, Key="cam/rec.claim.json", Body=held.encode())

    result = stack.invoke(stack.upload(make(tmp_path / "a.avi", *lavfi_video(1.0), "-c:v", "mjpeg"), "cam/rec.avi"))

    (rejected,) = result["rejected"]
    assert rejected["reason"].startswith("OutputConflict:") and "being converted" in rejected["reason"]
    assert stack.keys(stack.settings.image_bucket) == []
    assert set(stack.keys(stack.settings.video_bucket)) == {"cam/rec.claim.json", "cam/rec.rejected.json"}
    body = stack.s3.get_object(Bucket=stack.settings.video_bucket, Key="cam/rec.claim.json")["Body"].read()
    assert json.loads(body)["source"]["key"] == "cam/rec.AVI", "the other conversion's claim is untouched"


def test_a_key_whose_outputs_would_pass_s3s_limit_is_rejected_before_any_work(stack: Stack, tmp_path: Path) -> None:
    """JPEG keys carry the stem twice: a 600-byte stem passes 1,024 bytes. It used to be retried and
    end on the failure queue; it is a typed rejection now, with nothing written but the record."""
    key = "cams/" + "x" * 600 + ".avi"
    event = stack.upload(make(tmp_path / "a.avi", *lavfi_video(0.4), "-c:v", "mjpeg"), key)

    (rejected,) = stack.invoke(event)["rejected"]

    assert rejected["reason"].startswith("NameTooLong:") and "1024" in rejected["reason"]
    assert stack.keys(stack.settings.video_bucket) == ["cams/" + "x" * 600 + ".rejected.json"]
    assert stack.keys(stack.settings.image_bucket) == [] and stack.keys(stack.source) == [key]
