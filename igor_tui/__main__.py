"""`python -m igor_tui`: the `igor` command, for hosts where the console scripts are not on PATH."""

from igor_tui.cli import main

if __name__ == "__main__":
    main()
