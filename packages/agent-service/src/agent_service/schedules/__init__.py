"""Schedules: an assistant run in the background on a cron expression, once per tick."""
