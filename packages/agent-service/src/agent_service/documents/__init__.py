"""Documents: streamed upload, background processing, retrieval and answers with citations."""
