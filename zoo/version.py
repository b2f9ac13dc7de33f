"""The package version, importable without importing torch (the CLI, the hub and the data writer read it)."""

__version__ = "0.1.0"
