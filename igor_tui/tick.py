"""igor-tick: make reservations happen on real systems, once a minute from cron, idempotently.

`igor-tick` is `igor tick`: this module only moves the global options before the verb and hands over to
the CLI, which builds the service and prints the report (output/tick.py). The plan is tickplan.py; the
executor that records intent, acts on the backends and records the outcome is service/tick_executor.py.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point: `igor-tick` is `igor tick`."""
    from .cli import main as igor_main

    args = sys.argv[1:]
    leading: list[str] = []  # `igor-tick --config PATH ...`: the global options go before the verb
    while args and (args[0] in ("--config", "-config") or args[0].startswith(("--config=", "-config="))):
        take = 1 if "=" in args[0] else 2
        leading, args = leading + args[:take], args[take:]
    sys.argv = [sys.argv[0], *leading, "tick", *args]
    igor_main()
