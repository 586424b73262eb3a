"""Figures of the store's runs (`cifar-tui plot`, `cifar-tui report`), drawn with matplotlib,
an optional extra imported only here."""
