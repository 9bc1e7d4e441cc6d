"""Entry points: ``python -m kerasemo.experiments.<name> --help``."""
