"""Registers mailha's pytest plugin (options, markers, run store, cluster fixtures)."""
pytest_plugins = ["harness.plugin"]
