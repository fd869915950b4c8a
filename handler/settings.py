"""The function's settings: read once from the environment, typed, validated, fail fast.

The pipeline's settings are defined in ``avi2mp4.settings``; the ones only the function has are
defined below the same way. A bad value raises ConfigError naming the variable, at the first
invocation of a cold container, before any object is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from avi2mp4.errors import ConfigError
from avi2mp4.settings import PipelineConfig, entries, parse_text, read_env, setting, validate


@dataclass(frozen=True)
class FunctionSettings:
    """Settings of the Lambda function only (the CLI writes to folders, not buckets)."""

    video_bucket: str = setting("video-mp4", "VIDEO_BUCKET", doc="bucket for MP4 clips and manifests")
    image_bucket: str = setting("unlabeled-images", "IMAGE_BUCKET", doc="bucket for the JPEGs (must differ)")
    idempotency_table: str = setting("", "IDEMPOTENCY_TABLE", required=True,
        doc="DynamoDB table, partition key `id`, TTL on `expiration`")  # fmt: skip
    idempotency_ttl_seconds: int = setting(24 * 3600, "IDEMPOTENCY_TTL_SECONDS", minimum=60,
        doc="how long a finished object's record is kept")  # fmt: skip
    tmp_dir: str = setting("/tmp", "TMP_DIR", doc="work space for the source and its outputs")
    time_reserve_seconds: float = setting(60.0, "TIME_RESERVE_SECONDS", minimum=5, maximum=600,
        doc="stop a conversion this long before the invocation's timeout, to remove its outputs")  # fmt: skip
    state_machine_arn: str = setting("", "STATE_MACHINE_ARN",
        doc="state machine converting long recordings as parallel clip jobs; empty: one pass")  # fmt: skip
    event_bus_name: str = setting("", "EVENT_BUS_NAME",
        doc="EventBridge bus (name or ARN) for the completion events (README \"Completion events\"); "
            "`default`: the account's default bus; empty: no events")  # fmt: skip
    source_buckets: str = setting("", "SOURCE_BUCKETS",
        doc="the only buckets whose objects are converted (comma-separated; the template sets its source "
            "bucket); empty: any bucket but the output buckets")  # fmt: skip

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class Settings:
    video_bucket: str
    image_bucket: str
    idempotency_table: str
    idempotency_ttl_seconds: int
    tmp_dir: Path
    pipeline: PipelineConfig
    time_reserve_seconds: float = 60.0
    state_machine_arn: str = ""
    source_buckets: tuple[str, ...] = ()
    """Empty: any bucket but the output buckets."""
    event_bus_name: str = ""
    """Empty: no completion events."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        values = {}
        for entry in entries(FunctionSettings):
            raw = env.get(entry.spec.env, "").strip()
            values[entry.name] = parse_text(entry, raw, entry.spec.env) if raw else entry.default
        own = FunctionSettings(**values)
        if not own.idempotency_table:
            raise ConfigError("IDEMPOTENCY_TABLE is not set", field="idempotency_table")
        if own.video_bucket == own.image_bucket:
            raise ConfigError("VIDEO_BUCKET and IMAGE_BUCKET must differ (manifests and JPEG prefixes would mix)")
        sources = bucket_list(own.source_buckets)
        if {own.video_bucket, own.image_bucket} & set(sources):
            raise ConfigError("SOURCE_BUCKETS may not name an output bucket (the function would convert its outputs)",
                              field="source_buckets")  # fmt: skip
        return cls(
            video_bucket=own.video_bucket,
            image_bucket=own.image_bucket,
            idempotency_table=own.idempotency_table,
            idempotency_ttl_seconds=own.idempotency_ttl_seconds,
            tmp_dir=Path(own.tmp_dir),
            pipeline=read_env(env),
            time_reserve_seconds=own.time_reserve_seconds,
            state_machine_arn=own.state_machine_arn,
            source_buckets=sources,
            event_bus_name=own.event_bus_name,
        )


def bucket_list(text: str) -> tuple[str, ...]:
    """``SOURCE_BUCKETS``' names: comma-separated, blanks ignored."""
    return tuple(name.strip() for name in text.split(",") if name.strip())
