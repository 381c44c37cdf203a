"""Projects: named groups of tasks."""
