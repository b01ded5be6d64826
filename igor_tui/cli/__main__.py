"""`python -m igor_tui.cli`: the `igor` command."""

from . import main

main()
