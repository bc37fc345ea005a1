"""Configuration: the one settings object, read from DUESFLOW_* environment variables at process start."""
