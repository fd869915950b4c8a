"""Files a labelling tool imports as they are: CVAT's dataset manifest and Label Studio's task list
beside each video's JPEGs, from one pass and from clip jobs alike; the recording's start time (when
the AVI carries one) in the manifest and in each JPEG's EXIF.

CVAT's manifest code (``utils/dataset_manifest`` in its repository) is not published as a package,
so its rules are restated here from that code: header lines ``version`` (1.0 or 1.1) and ``type``
``images``; per image ``name`` (relative, no extension) and ``extension`` required; ``checksum`` the
MD5 of the decoded image's pixel bytes (``md5_hash``: ``hashlib.md5(image.tobytes())``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image

from avi2mp4.settings import PipelineConfig
from avi2mp4.storage.local import LocalSource, LocalStore
from devtools.readback import lavfi_video, make
from tests.integration.stack import Stack
from tests.local_job import convert_with_jobs, run_local_job

CFG = PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0, frame_step=5)
RECORDED = "2021-06-05 14:03:22"


def _manifest(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


def _cvat_items(manifest_jsonl: bytes) -> list[dict[str, Any]]:
    """The manifest read as CVAT reads it (its structure validator, then every item line)."""
    version, kind, *items = [json.loads(line) for line in manifest_jsonl.decode().splitlines()]
    assert version == {"version": "1.1"} and kind == {"type": "images"}
    for item in items:
        assert isinstance(item["name"], str) and isinstance(item["extension"], str)
        assert "/" not in item["name"] and item["extension"] == ".jpg"
    return items


def test_one_pass_writes_what_cvat_and_label_studio_import(tmp_path: Path) -> None:
    src = make(tmp_path / "cam.avi", *lavfi_video(2.4), "-metadata", f"date={RECORDED}", "-c:v", "mjpeg")

    job = run_local_job(src, tmp_path / "out", CFG)

    manifest = _manifest(job.manifest_object.location)
    assert manifest["source"]["recorded_at"] == "2021-06-05T14:03:22"
    folder = tmp_path / "out" / "unlabeled-images" / "cam"
    tools = manifest["labeling_tools"]
    assert tools["cvat_manifest"]["location"] == str(folder / "manifest.jsonl")
    cvat = (folder / "manifest.jsonl").read_bytes()
    assert hashlib.sha256(cvat).hexdigest() == tools["cvat_manifest"]["sha256"]
    items = _cvat_items(cvat)
    assert [i["name"] + i["extension"] for i in items] == [Path(f["key"]).name for f in manifest["frames"]]
    for item in items:
        with Image.open(folder / (item["name"] + item["extension"])) as image:
            assert (item["width"], item["height"]) == image.size
            assert item["checksum"] == hashlib.md5(image.tobytes()).hexdigest()  # CVAT's checksum
            taken = image.getexif().get_ifd(ExifTags.IFD.Exif)
        row = next(f for f in manifest["frames"] if f["key"].endswith(item["name"] + ".jpg"))
        when = dt.datetime(2021, 6, 5, 14, 3, 22) + dt.timedelta(seconds=row["pts_seconds"])
        assert taken[ExifTags.Base.DateTimeOriginal] == when.strftime("%Y:%m:%d %H:%M:%S")
        assert taken[ExifTags.Base.SubsecTimeOriginal] == f"{when.microsecond // 1000:03d}"

    tasks = json.loads((folder / "label-studio-tasks.json").read_text())
    assert [t["data"]["image"] for t in tasks] == [f["location"] for f in manifest["frames"]]
    first = tasks[1]["data"]  # frame 5: 0.2 s in
    assert first["frame_index"] == 5 and first["time_seconds"] == 0.2 and first["source"] == "cam.avi"
    assert first["clip"] == manifest["clips"][0]["location"] and first["recorded_at"] == "2021-06-05T14:03:22.200"
    assert set(tasks[0]) == {"data"}, "a task is its data (no predictions or annotations to import)"


def test_clip_jobs_write_the_same_files(tmp_path: Path) -> None:
    src = make(tmp_path / "cam.avi", *lavfi_video(5.2), "-metadata", f"date={RECORDED}", "-c:v", "mjpeg")

    single = run_local_job(src, tmp_path / "single", CFG)
    parallel = convert_with_jobs(src, LocalSource(src, src.name).current(), LocalStore(tmp_path / "parallel"), CFG,
                                 jobs=2)  # fmt: skip

    assert _manifest(parallel.manifest_object.location)["conversion"]["path"] == "parallel"
    one, other = (_manifest(j.manifest_object.location)["labeling_tools"] for j in (single, parallel))
    assert Path(one["cvat_manifest"]["location"]).read_bytes() == Path(other["cvat_manifest"]["location"]).read_bytes()
    tasks = [json.loads(Path(t["label_studio_tasks"]["location"]).read_text()) for t in (one, other)]
    for task in tasks[1]:
        for name in ("image", "clip"):
            task["data"][name] = task["data"][name].replace(str(tmp_path / "parallel"), str(tmp_path / "single"))
    assert tasks[0] == tasks[1]


def test_a_recording_without_a_clock_gets_no_times(tmp_path: Path) -> None:
    plain = make(tmp_path / "plain.avi", *lavfi_video(0.6), "-c:v", "mjpeg")
    year_only = make(tmp_path / "year.avi", *lavfi_video(0.6), "-metadata", "date=2021", "-c:v", "mjpeg")
    for src in (plain, year_only):
        job = run_local_job(src, tmp_path / "out", CFG)
        manifest = _manifest(job.manifest_object.location)
        assert manifest["source"]["recorded_at"] is None
        with Image.open(job.images[0].location) as image:
            assert ExifTags.Base.DateTimeOriginal not in image.getexif().get_ifd(ExifTags.IFD.Exif)
        tasks = json.loads(Path(manifest["labeling_tools"]["label_studio_tasks"]["location"]).read_text())
        assert "recorded_at" not in tasks[0]["data"]


def test_creation_time_of_a_container_named_avi_counts(tmp_path: Path) -> None:
    src = make(tmp_path / "phone.mkv", *lavfi_video(0.6), "-metadata", "creation_time=2022-01-02T03:04:05.000000Z",
               "-c:v", "mjpeg")  # fmt: skip
    named = src.rename(tmp_path / "phone.avi")

    job = run_local_job(named, tmp_path / "out", CFG)

    assert _manifest(job.manifest_object.location)["source"]["recorded_at"] == "2022-01-02T03:04:05"


def test_the_function_writes_them_beside_the_jpegs_in_the_bucket(stack: Stack, tmp_path: Path) -> None:
    src = make(tmp_path / "cam.avi", *lavfi_video(0.8), "-c:v", "mjpeg")

    stack.invoke(stack.upload(src, "site/cam.avi"))

    image = stack.settings.image_bucket
    keys = stack.keys(image)
    assert {"site/cam/manifest.jsonl", "site/cam/label-studio-tasks.json"} <= set(keys)
    tasks = json.loads(stack.s3.get_object(Bucket=image, Key="site/cam/label-studio-tasks.json")["Body"].read())
    jpegs = sorted(k for k in keys if k.endswith(".jpg"))
    assert sorted(t["data"]["image"] for t in tasks) == [f"s3://{image}/{k}" for k in jpegs]
    cvat = stack.s3.get_object(Bucket=image, Key="site/cam/manifest.jsonl")["Body"].read()
    assert [f"site/cam/{i['name']}.jpg" for i in _cvat_items(cvat)] == jpegs


LABEL_STUDIO = Path(__file__).resolve().parents[2] / ".tools" / "label-studio" / "bin" / "label-studio"
TOKEN = "avi2mp4-test-token"
LABEL_CONFIG = ('<View><Image name="image" value="$image"/><Choices name="dead" toName="image">'
                '<Choice value="fine"/><Choice value="dead"/></Choices></View>')  # fmt: skip


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Label Studio from PyPI (``make test`` installs it: requirements-labelstudio.txt), on loopback,
    with a user whose API token the test knows; its URL."""
    assert LABEL_STUDIO.is_file(), f"{LABEL_STUDIO} is missing: make .tools/label-studio/bin/label-studio"
    data = tmp_path_factory.mktemp("label-studio")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HOME": str(data), "LABEL_STUDIO_BASE_DATA_DIR": str(data), "SENTRY_DSN": "",
           "FRONTEND_SENTRY_DSN": "", "COLLECT_ANALYTICS": "false",
           "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true"}  # fmt: skip
    proc = subprocess.Popen([str(LABEL_STUDIO), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port",
                             str(port), "--data-dir", str(data), "--username", "test@example.com", "--password",
                             "avi2mp4-test", "--user-token", TOKEN], stdout=(data / "server.log").open("w"),
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # migrations on a first start take ~40 s here
        while True:
            assert proc.poll() is None, (data / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "Label Studio did not start"
                time.sleep(1)  # polling its health page: the server says nothing else when it is ready
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def _api(url: str, method: str, path: str, body: object) -> Any:
    headers = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", method=method, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def test_label_studio_imports_the_task_file_as_it_is(label_studio: str, stack: Stack, tmp_path: Path) -> None:
    src = make(tmp_path / "cam.avi", *lavfi_video(1.2), "-metadata", f"date={RECORDED}", "-c:v", "mjpeg")
    stack.invoke(stack.upload(src, "site/cam.avi"))
    image = stack.settings.image_bucket
    tasks = json.loads(stack.s3.get_object(Bucket=image, Key="site/cam/label-studio-tasks.json")["Body"].read())

    project = _api(label_studio, "POST", "/api/projects", {"title": "avi2mp4", "label_config": LABEL_CONFIG})
    imported = _api(label_studio, "POST", f"/api/projects/{project['id']}/import?commit_to_project=true", tasks)

    assert imported["task_count"] == len(tasks) == 3
    listed = _api(label_studio, "GET", f"/api/tasks?project={project['id']}&page_size=10", None)["tasks"]
    assert [t["data"] for t in sorted(listed, key=lambda t: t["data"]["frame_index"])] == [t["data"] for t in tasks]
    assert sorted((t["data"]["frame_index"], t["data"]["image"]) for t in listed) == [
        (i, f"s3://{image}/site/cam/cam_f{i:06d}.jpg") for i in (0, 10, 20)]  # fmt: skip
