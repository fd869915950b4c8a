"""Operations on a deployed stack: backfill what is already in the bucket, redrive failures.
Not in the Lambda image; plugged into the ``avi2mp4`` command by entry point."""
