"""The ``tapir`` command line (typer). ``main.app`` is the entry point; each command group
lives in its own module (``sim``: the simulated library)."""
