"""GitHub: the REST client, the webhook hub and the issue-triage agent."""
