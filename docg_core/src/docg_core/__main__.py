"""``python -m docg_core`` runs the ``docg`` command line."""

from .cli import main

main()
