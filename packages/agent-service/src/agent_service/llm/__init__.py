"""The LLM client: the OpenAI wire format over the app's own httpx pool, with our failure table."""
