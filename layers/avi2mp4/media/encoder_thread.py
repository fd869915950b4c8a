"""The encoders on a thread of their own, so decoding and encoding overlap as in the ffmpeg CLI."""

from __future__ import annotations

import contextlib
import queue
import threading

from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from .clips import ClipEncoder, ClipFile
from .picture import FrameConverter

_Work = tuple[VideoFrame | AudioFrame, int]  # a frame and its pts (video) or position (audio, -1: none)


class EncoderThread:
    """Runs a ClipEncoder on its own thread.

    PyAV releases the GIL inside decode, swscale and encode, so decoding on the caller's thread
    while this thread converts and encodes overlaps the two, as the ffmpeg CLI does; a serial loop
    left a core idle (wall time 1.3x the CLI's). The queue is bounded, so memory stays flat:
    the decoder waits when the encoder falls behind.
    """

    def __init__(self, encoder: ClipEncoder, converter: FrameConverter, depth: int = 8) -> None:
        self.encoder, self.converter = encoder, converter
        self._queue: queue.Queue[_Work | None] = queue.Queue(maxsize=depth)  # None: stop
        self._error: BaseException | None = None
        self._clips: list[ClipFile] = []
        self._thread = threading.Thread(target=self._work, name="avi2mp4-encoder", daemon=True)
        self._thread.start()

    def add_video(self, frame: VideoFrame, pts: int) -> None:
        # Converted on the caller's (decoding) thread, which waits on this one anyway; the
        # encoder thread then only feeds x264, whose frame threads stall while it is busy.
        self._put((self.converter(frame), pts))

    def add_audio(self, frame: AudioFrame, position: int | None = None) -> None:
        self._put((frame, -1 if position is None else position))

    def finish(self) -> list[ClipFile]:
        self._put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._clips

    def abort(self) -> None:
        if self._thread.is_alive():
            self._error = self._error or RuntimeError("aborted")
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
            self._thread.join(timeout=30)
        self.encoder.abort()

    def _put(self, item: _Work | None) -> None:
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _work(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None or self._error is not None:
                    break
                frame, pts = item
                if isinstance(frame, VideoFrame):
                    self.encoder.add_video(frame, pts)
                else:
                    self.encoder.add_audio(frame, None if pts < 0 else pts)
            if self._error is None:
                self._clips = self.encoder.finish()
        except BaseException as exc:
            self._error = exc
            # Unblock a producer waiting on a full queue.
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
