"""Names of every output and the manifest that lists them."""
