"""The Textual app and the `cifar-tui` command line."""
