"""Runs: every chat turn as a stored resource with its events, driven by one executor."""
