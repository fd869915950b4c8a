"""The ``avi2mp4`` command line (local files; development commands plug in by entry point)."""
