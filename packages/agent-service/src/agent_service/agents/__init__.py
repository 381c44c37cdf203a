"""Agents: the tool-calling loop, the agent types and their tools, and the chat routes."""
