"""The ``zoo`` command line (``zoo = zoo.cli:main``): one thin module per command group."""

from zoo.cli.main import main

__all__ = ["main"]
