"""Putting igor on a head node and checking it stays right: `igor setup` (setup*.py, deploy.py) and
`igor doctor` (doctor*.py). Only the CLI's local verbs import this package."""
