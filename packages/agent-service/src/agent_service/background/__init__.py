"""Background runs: POST /api/runs answers at once; join, client tool outputs, completion webhooks."""
