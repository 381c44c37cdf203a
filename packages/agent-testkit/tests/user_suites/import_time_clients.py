"""Clients an app builds at import, on their defaults: they need a key to exist before any test runs."""

import anthropic
import openai
from langchain_openai import ChatOpenAI

openai_client = openai.OpenAI()
anthropic_client = anthropic.AsyncAnthropic()
chat_model = ChatOpenAI(model="gpt-4o-mini")
