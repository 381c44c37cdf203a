"""The tools of an assistant, from wherever they come: built in, MCP servers, the client."""
