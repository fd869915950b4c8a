"""S3 side of the job: the source object (head, download, delete) and the output ``Store``.

The only library module that imports boto3; the media and labeling code never import it. Clients are
passed in (the handler builds them once per container), so tests can point them at a local S3.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError as TransportError

from ..errors import SourceGone, StorageError, VerificationError
from .port import StoredObject, Target

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef, TaggingTypeDef

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# Multipart above 16 MiB, 8 parts in flight: a 2 GB AVI downloads in ~125 parts, concurrently.
TRANSFER = TransferConfig(multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB, max_concurrency=8)
DELETE_BATCH = 1000
_XML_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")
"""Characters an XML request body cannot carry as they are (CR is normalized to LF)."""
# What a request can fail with besides S3's answer: botocore's own errors, and urllib3's and the
# socket's where botocore lets them through (an error body cut short is read outside its retries).
TRANSPORT = (BotoCoreError, TransportError, ConnectionError)
BODY_ATTEMPTS = 4
RETRY_SECONDS = 0.2
CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".json": "application/json"}


def read_retrying(what: str, read: Callable[[], bytes]) -> bytes:
    """``read()``, again (``BODY_ATTEMPTS`` in all) when it fails in transport: botocore retries a
    request that failed, not a body that broke off after the answer began. StorageError when the
    attempts are spent; S3's own answers (ClientError) pass through at once."""
    for attempt in range(1, BODY_ATTEMPTS + 1):
        try:
            return read()
        except TRANSPORT as exc:
            if attempt == BODY_ATTEMPTS:
                raise StorageError(f"cannot read {what}: {exc}") from exc
            time.sleep(RETRY_SECONDS * 2 ** (attempt - 1))  # back off, as botocore's own retries do
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _missing(exc: ClientError) -> bool:
    return _code(exc) in {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}


def _denied(exc: ClientError) -> bool:
    return _code(exc) in {"403", "AccessDenied", "Forbidden"}


def head_source(client: S3Client, bucket: str, key: str) -> SourceObject:
    """The *current* object at ``key``. In a versioned bucket a deleted object's versions live on,
    so only "current" tells whether it still waits for conversion."""
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _missing(exc) or (_denied(exc) and not _listed(client, bucket, key)):
            raise SourceGone(f"s3://{bucket}/{key} does not exist (any more)") from exc
        raise StorageError(f"cannot read s3://{bucket}/{key}: {exc}") from exc
    except TRANSPORT as exc:
        raise StorageError(f"cannot read s3://{bucket}/{key}: {exc}") from exc
    return SourceObject(bucket, key, head["ContentLength"], head["ETag"].strip('"'), head.get("VersionId"))


def _listed(client: S3Client, bucket: str, key: str) -> bool:
    """Whether ``key`` exists, asked by listing. S3 answers HEAD on a missing key with 403, not
    404, to a caller without s3:ListBucket; the template grants it, so a listing tells "gone"
    from "denied". Without the permission the listing fails too: that is a real access problem."""
    try:
        answer = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    except TRANSPORT as exc:
        raise StorageError(f"cannot list s3://{bucket}/{key}: {exc}") from exc
    except ClientError as exc:
        raise StorageError(f"access denied to s3://{bucket}/{key}: the function needs s3:GetObject and "
                           f"s3:ListBucket on the source bucket ({exc})") from exc  # fmt: skip
    return any(obj["Key"] == key for obj in answer.get("Contents", []))


def tag_source(client: S3Client, src: SourceObject, tags: dict[str, str]) -> None:
    """Tag the source object (a rejected one says so where people look at it)."""
    tagging: TaggingTypeDef = {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
    try:
        if src.version_id:
            client.put_object_tagging(Bucket=src.bucket, Key=src.key, VersionId=src.version_id, Tagging=tagging)
        else:
            client.put_object_tagging(Bucket=src.bucket, Key=src.key, Tagging=tagging)
    except (ClientError, *TRANSPORT) as exc:
        raise StorageError(f"cannot tag s3://{src.bucket}/{src.key}: {exc}") from exc


def download_source(client: S3Client, src: SourceObject, dest: Path) -> None:
    """Multipart, concurrent download into ``dest`` (boto3's transfer manager)."""
    extra = {"VersionId": src.version_id} if src.version_id else {}
    try:
        client.download_file(src.bucket, src.key, str(dest), ExtraArgs=extra, Config=TRANSFER)
    except ClientError as exc:
        if _missing(exc):
            raise SourceGone(f"s3://{src.bucket}/{src.key} disappeared during download") from exc
        raise StorageError(f"cannot download s3://{src.bucket}/{src.key}: {exc}") from exc
    except TRANSPORT as exc:
        raise StorageError(f"cannot download s3://{src.bucket}/{src.key}: {exc}") from exc
    if dest.stat().st_size != src.size:  # a download cut short: a transport failure, worth a retry
        raise StorageError(f"downloaded {dest.stat().st_size} bytes of s3://{src.bucket}/{src.key}, "
                           f"expected {src.size}")  # fmt: skip


def delete_source(client: S3Client, src: SourceObject) -> bool:
    """Delete the source if it is still exactly the object converted; True if deleted.

    A user may upload a new file under the same key at any moment: that one has its own event and
    must survive. The delete is conditional on the converted object's ETag (``If-Match``), so an
    upload that lands between the check and the delete is never hidden behind a delete marker
    (S3 answers 412 and nothing changes). In a versioned bucket the converted version stays, as a
    noncurrent version, until the lifecycle rule expires it (a safety net).
    """
    try:
        current = head_source(client, src.bucket, src.key)
    except SourceGone:
        return False
    same = (current.version_id == src.version_id) if src.version_id else (current.etag == src.etag)
    if not same:
        log.warning("source s3://%s/%s was replaced after conversion; keeping the new object",
                    src.bucket, src.key)  # fmt: skip
        return False
    try:
        client.delete_object(Bucket=src.bucket, Key=src.key, IfMatch=f'"{src.etag}"')
    except ClientError as exc:
        if _code(exc) in {"PreconditionFailed", "412"}:
            log.warning("source s3://%s/%s was replaced just now; keeping the new object", src.bucket, src.key)
            return False
        if _missing(exc):
            return False
        raise StorageError(f"cannot delete s3://{src.bucket}/{src.key}: {exc}") from exc
    except TRANSPORT as exc:
        raise StorageError(f"cannot delete s3://{src.bucket}/{src.key}: {exc}") from exc
    return True


class S3Store:
    """Outputs to the video and image buckets, each verified by a HEAD after the upload."""

    max_key_bytes = max_name_bytes = 1024  # S3's limit on a key

    def __init__(self, client: S3Client, video_bucket: str, image_bucket: str) -> None:
        self.client = client
        self.buckets: dict[Target, str] = {"video": video_bucket, "image": image_bucket}
        self._said_no_checksum = False

    def location(self, target: Target, key: str) -> str:
        return f"s3://{self.buckets[target]}/{key}"

    def put_file(self, target: Target, key: str, path: Path, sha256: str) -> StoredObject:
        bucket = self.buckets[target]
        size = path.stat().st_size
        extra = {
            "ContentType": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            "Metadata": {"sha256": sha256},
            # S3 checks every part against its SHA-256 on arrival.
            "ChecksumAlgorithm": "SHA256",
        }
        try:
            self.client.upload_file(str(path), bucket, key, ExtraArgs=extra, Config=TRANSFER)
        except (ClientError, S3UploadFailedError, *TRANSPORT) as exc:
            raise StorageError(f"cannot upload s3://{bucket}/{key}: {exc}") from exc
        stored = self._verify(bucket, key, size, sha256)
        path.unlink()  # /tmp stays small: the clip now lives in S3
        return stored

    def put_bytes(self, target: Target, key: str, data: bytes, sha256: str, content_type: str) -> StoredObject:
        bucket = self.buckets[target]
        try:
            self.client.put_object(
                Bucket=bucket, Key=key, Body=data, ContentType=content_type,
                Metadata={"sha256": sha256}, ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(sha256),
            )  # fmt: skip
        except (ClientError, *TRANSPORT) as exc:
            raise StorageError(f"cannot upload s3://{bucket}/{key}: {exc}") from exc
        return self._verify(bucket, key, len(data), sha256)

    def verify(self, target: Target, key: str, size: int, sha256: str) -> StoredObject:
        return self._verify(self.buckets[target], key, size, sha256)

    def delete(self, target: Target, key: str) -> None:
        bucket = self.buckets[target]
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if not _missing(exc):
                raise StorageError(f"cannot delete s3://{bucket}/{key}: {exc}") from exc
        except TRANSPORT as exc:
            raise StorageError(f"cannot delete s3://{bucket}/{key}: {exc}") from exc

    def delete_many(self, target: Target, keys: list[str]) -> None:
        bucket = self.buckets[target]
        # DeleteObjects takes its keys in XML, which cannot carry most control characters (and
        # turns a CR into a LF): such keys go one by one, in the URL, where anything can.
        batched = [k for k in keys if not _XML_UNSAFE.search(k)]
        for key in (k for k in keys if _XML_UNSAFE.search(k)):
            self.delete(target, key)
        for start in range(0, len(batched), DELETE_BATCH):  # DeleteObjects takes 1,000 keys a call
            batch: list[ObjectIdentifierTypeDef] = [{"Key": k} for k in batched[start : start + DELETE_BATCH]]
            try:
                answer = self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            except (ClientError, *TRANSPORT) as exc:
                raise StorageError(f"cannot delete from s3://{bucket}: {exc}") from exc
            failed = [e for e in answer.get("Errors", []) if e.get("Code") != "NoSuchKey"]
            if failed:
                raise StorageError(f"cannot delete {len(failed)} objects from s3://{bucket}, e.g. "
                                   f"{failed[0].get('Key')}: {failed[0].get('Message')}")  # fmt: skip

    def create_bytes(self, target: Target, key: str, data: bytes) -> bool:
        bucket = self.buckets[target]
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*", ContentType="application/json")
        except ClientError as exc:
            if _code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}:
                return False
            raise StorageError(f"cannot write s3://{bucket}/{key}: {exc}") from exc
        except TRANSPORT as exc:
            raise StorageError(f"cannot write s3://{bucket}/{key}: {exc}") from exc
        return True

    def get_bytes(self, target: Target, key: str) -> bytes | None:
        bucket = self.buckets[target]
        try:
            return read_retrying(
                f"s3://{bucket}/{key}", lambda: self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
            )
        except ClientError as exc:
            if _missing(exc):
                return None
            raise StorageError(f"cannot read s3://{bucket}/{key}: {exc}") from exc

    def list_keys(self, target: Target, prefix: str) -> list[str]:
        bucket = self.buckets[target]
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))
        except (ClientError, *TRANSPORT) as exc:
            raise StorageError(f"cannot list s3://{bucket}/{prefix}: {exc}") from exc

    def _verify(self, bucket: str, key: str, size: int, sha256: str) -> StoredObject:
        try:
            head = self.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if _missing(exc):
                raise VerificationError(f"s3://{bucket}/{key} is missing after upload") from exc
            raise StorageError(f"cannot check s3://{bucket}/{key}: {exc}") from exc
        except TRANSPORT as exc:
            raise StorageError(f"cannot check s3://{bucket}/{key}: {exc}") from exc
        if head["ContentLength"] != size:
            raise VerificationError(f"s3://{bucket}/{key}: uploaded {size} bytes, S3 has {head['ContentLength']}")
        if head.get("Metadata", {}).get("sha256") != sha256:
            raise VerificationError(f"s3://{bucket}/{key}: checksum metadata does not match")
        whole = head.get("ChecksumSHA256")
        if not whole:
            # Some S3 implementations keep no checksum: read the object back and hash it instead.
            if not self._said_no_checksum:
                self._said_no_checksum = True
                log.warning("s3://%s returns no SHA-256 checksum; verifying outputs by reading them back", bucket)
            if self._read_back_sha256(bucket, key) != sha256:
                raise VerificationError(f"s3://{bucket}/{key}: the bytes read back differ from what was sent")
        # A single-part upload's checksum is the object's own; a multipart one is a checksum of
        # part checksums ("...-N"), already checked part by part by S3 on arrival.
        elif "-" not in whole and whole != _b64(sha256):
            raise VerificationError(f"s3://{bucket}/{key}: S3's SHA-256 differs from what was sent")
        return StoredObject(key=key, size=size, sha256=sha256, location=f"s3://{bucket}/{key}")

    def _read_back_sha256(self, bucket: str, key: str) -> str:

        def read() -> bytes:
            digest = hashlib.sha256()
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                digest.update(chunk)
            return digest.hexdigest().encode()

        try:
            return read_retrying(f"s3://{bucket}/{key} back", read).decode()
        except ClientError as exc:  # a failed read, not a mismatch
            raise StorageError(f"s3://{bucket}/{key} cannot be read back: {exc}") from exc


def _b64(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()
