"""The AWS adapter: Lambda entry point (``handler.app.lambda_handler``) and its helpers."""

import os

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "avi2mp4")
