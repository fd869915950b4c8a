"""What the operations commands check before they touch a bucket: which buckets are the stack's
sources (``SOURCE_BUCKETS``, the function's own allow-list), and that a run in this process with
the operator's credentials is meant when no local endpoint is set."""

from __future__ import annotations

from avi2mp4.errors import ConfigError

SERVICES = ("S3", "DYNAMODB")


def source_buckets(env: dict[str, str]) -> tuple[str, ...]:
    """``SOURCE_BUCKETS`` (comma-separated), as the function reads it; empty: not restricted."""
    return tuple(name.strip() for name in env.get("SOURCE_BUCKETS", "").split(",") if name.strip())


def local_endpoints(env: dict[str, str]) -> bool:
    """Whether boto3 will talk to local endpoints for every service the handler uses:
    ``AWS_ENDPOINT_URL``, or ``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL_DYNAMODB``."""
    return bool(env.get("AWS_ENDPOINT_URL")) or all(env.get(f"AWS_ENDPOINT_URL_{s}") for s in SERVICES)


def require_local_or_consent(env: dict[str, str], what: str) -> None:
    """ConfigError unless the endpoints are local or ``AVI2MP4_ALLOW_AWS=1`` says a real account is meant."""
    if local_endpoints(env) or env.get("AVI2MP4_ALLOW_AWS") == "1":
        return
    missing = [f"AWS_ENDPOINT_URL_{s}" for s in SERVICES if not env.get(f"AWS_ENDPOINT_URL_{s}")]
    raise ConfigError(
        f"{what}: neither AWS_ENDPOINT_URL nor {' and '.join(missing)} is set, so this would convert "
        "and delete with your credentials in a real account; set AVI2MP4_ALLOW_AWS=1 to mean it"
    )
