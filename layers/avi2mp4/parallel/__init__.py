"""Recordings of any length as independent clip jobs: plan (from the index), clip pass and clip
job (one clip each), finish; and the process pool behind ``avi2mp4 convert --jobs``. The Lambda
adapters around them are in ``handler/clip_steps.py``; docs/architecture.md has the flow."""
