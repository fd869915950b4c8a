"""avi2mp4: AVI recordings -> web-ready H.264 MP4 clips and curated JPEG frames.

The media core (probe, timing, transcode, frames, deadframes, pipeline) imports only av, numpy,
Pillow and the standard library. Anything that talks to AWS lives in ``s3store`` and ``handler/``.
"""

__version__ = "0.1.0"
