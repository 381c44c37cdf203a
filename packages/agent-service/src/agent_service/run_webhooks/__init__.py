"""Completion webhooks: a run's final status POSTed to the URL it named, signed per Standard
Webhooks with the user's secret, delivered by the job queue with retries for a day."""
