"""Where attachment bytes live: one interface, the local data dir or any S3-compatible store."""
