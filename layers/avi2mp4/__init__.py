"""avi2mp4: AVI recordings -> web-ready H.264 MP4 clips and curated JPEG frames.

- ``media/``     PyAV only: probe, timing, picture conversion, encoders, clip files, the decode pass
- ``labeling/``  which sampled frames become JPEGs: dead-frame judgements, detector, JPEG encoding
- ``pipeline``   the one decode pass that feeds both; ``job``: pipeline -> store -> manifest
- ``outputs/``   every output name and the manifest
- ``storage/``   the store port, a local folder, S3 (the only boto3 user)
- ``settings``   every setting, defined once; ``errors``: the exception tree
- ``cli/``       the ``avi2mp4`` command (not in the Lambda image)
"""

__version__ = "0.1.0"
