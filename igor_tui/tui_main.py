"""`igor-tui` (and `igor tui`): parse the few options, build the service, then import Textual.

Kept apart from app.py so `igor-tui --help` and config errors answer without loading Textual, and
so the CLI can offer `igor tui` without importing the app at module level.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping, Sequence

from .errors import IgorError

DESCRIPTION = """\
The full-screen igor: live rack grids, the reservation table and a timeline, with forms to submit,
speculate (pick a slot with the arrow keys), extend, power and delete. Same config, identity rules
and permissions as the igor command line.

keys (? in the app lists them all):
  arrows/hjkl move   Enter open   Space mark nodes   n new   s speculate   e extend   d delete
  p power   t time cursor (then ←/→, Esc back to now)   / filter   1 2 3 panels   Ctrl+P palette   q quit
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="igor-tui",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--config", "-config", metavar="PATH", help="igor.conf (default: $IGOR_CONFIG, /etc/igor.conf)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="a simulated 520-node cluster in a throw-away directory, with igor-tick running in-process on "
        "fake backends (touches nothing else, no network)",
    )
    parser.add_argument(
        "--demo-user",
        default="alice",
        metavar="USER",
        help="who you are in the demo (default alice; ops is admin)",
    )
    parser.add_argument(
        "--refresh",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how often to re-read the store (default 1)",
    )
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Console-script entry point; returns the exit code (errors: one line on stderr)."""
    env = os.environ if env is None else env
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.refresh <= 0:
        sys.stderr.write("igor-tui: --refresh must be a positive number of seconds\n")
        return 2
    root = None
    try:
        if args.demo:
            from .demo import build_demo, demo_root

            root = demo_root()
            cluster = build_demo(root)
            service = cluster.service(args.demo_user)
            background = cluster.tick
            title = f"DEMO {service.naming.describe()}"
        else:
            from .service import build_service

            service = build_service(args.config, env)
            background = None
            title = ""
        from .app import IgorApp

        IgorApp(
            service, refresh_seconds=args.refresh, background=background, background_seconds=5.0, title=title
        ).run()
    except IgorError as err:
        sys.stderr.write(f"igor-tui: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def console() -> None:
    sys.exit(main())
