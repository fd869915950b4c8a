"""The media core, PyAV only: open and probe, timing, picture conversion, encoders, clip
files, the decode pass. It knows nothing of labeling, storage or AWS."""
