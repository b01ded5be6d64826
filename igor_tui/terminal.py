"""The terminal's width as `shutil.get_terminal_size` gives it, without importing shutil.

shutil imports fnmatch, zlib, bz2 and lzma (~1.5 ms of every `igor` run), and argparse asks for the
width once per add_argument; igor needs nothing else from shutil on the CLI path.
"""

from __future__ import annotations

import os
import sys


def terminal_columns(fallback: int = 80) -> int:
    """`shutil.get_terminal_size((fallback, 24)).columns`: $COLUMNS if it is a positive number, else the
    width of the terminal on stdout, else `fallback` (stdout closed, not a terminal, or width 0)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return fallback
    return size.columns or fallback
