"""Tasks: the user's to-do items, optionally filed under a project; the assistant's workspace."""
