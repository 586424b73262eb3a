"""cifar_tui: the checkout is the package (pyproject.toml's package map); ARCHITECTURE.md says what lives where."""
