"""One module per tool, each exporting `TOOL`: a typed function with its argument model."""
