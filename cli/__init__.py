"""The `nnlab` command line."""
