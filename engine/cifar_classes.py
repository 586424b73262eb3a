"""CIFAR-10's class names, in label order (importable without torch)."""

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
