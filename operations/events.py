"""S3 event notifications as S3 sends them, made for objects that are already in a bucket: what
backfill hands the function, and what the local tools and tests deliver."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

REGION = "us-east-1"


def s3_event(bucket: str, key: str, size: int, etag: str, version_id: str | None, sequencer: str,
             event_name: str = "ObjectCreated:Put") -> dict[str, Any]:  # fmt: skip
    """A real-shaped S3 notification (the key form-urlencoded, as S3 sends it)."""
    obj: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag,
        "sequencer": sequencer,
    }
    if version_id:
        obj["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-11-24T08:00:00.000Z",
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:EXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "EXAMPLE", "x-amz-id-2": "EXAMPLE"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "avi-uploads",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "EXAMPLE"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }
