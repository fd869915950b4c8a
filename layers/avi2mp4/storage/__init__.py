"""Where outputs go: the port (``port``), a local folder (``local``) and S3 (``s3``, the only
module of the library that imports boto3)."""
