"""Conversations: a user's chats with one agent type, and every message in them."""
