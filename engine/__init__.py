"""Training: configs, models, data, the loop, its events and the worker thread (torch only)."""
