"""Textual widgets of igor-tui (rack grid, timeline, reservation table) arrive with the TUI issue."""
