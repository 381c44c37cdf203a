"""Assistants as data: a named configuration of instructions, model, sampling and tools, versioned."""
