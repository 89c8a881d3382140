"""The `[checks]` section of config.toml: read, planned, applied and exported."""
