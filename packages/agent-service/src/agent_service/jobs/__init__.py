"""Durable background jobs: one table, one way to enqueue, two runners (in-process or procrastinate)."""
