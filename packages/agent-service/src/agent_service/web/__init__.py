"""The web app for people at `/`: static pages and scripts that use the public HTTP API only."""
