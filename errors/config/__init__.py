"""The `[errors]` section of config.toml, and Periskop's YAML: read, planned, applied and exported."""
