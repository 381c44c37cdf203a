"""Idempotency-Key: a retried POST returns the first result instead of doing the work twice."""
