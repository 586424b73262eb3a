"""Whatever connects the engine to the store: the job source, the control watcher, the worker
and foreground entry points, and the hosts of the app's engine (a child process or a thread)."""
