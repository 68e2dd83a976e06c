"""Running experiments: the one spec-to-recorded-run path, the queue and the worker process."""
