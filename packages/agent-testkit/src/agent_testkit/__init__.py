"""Test kit for LLM apps: a scripted fake of the OpenAI-compatible API."""
