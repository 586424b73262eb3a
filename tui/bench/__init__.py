"""`cifar-tui bench`: the benchmarks, each a command that prints a table and one JSON line
(report.py). training.py: the engine against the tutorial's pipeline, the store, the app's cost of
watching; gpu.py: the CUDA path in one command; scale.py: the queue on many devices; ui.py: the run
table at 10,000 runs."""
