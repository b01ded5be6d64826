"""Backends that make reservations happen (PXE, Cobbler, power, switch, liveness) arrive with igor-tick."""
