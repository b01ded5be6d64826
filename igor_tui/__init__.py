"""igor-tui: node reservations for bare-metal clusters (importing this package loads nothing else)."""

__version__ = "0.1.0"
