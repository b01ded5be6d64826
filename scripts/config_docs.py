"""Write igor.conf.example and the README's configuration table from the key table (igor_tui/config/keys.py).

    .venv/bin/python scripts/config_docs.py          # rewrite both files
    .venv/bin/python scripts/config_docs.py --check  # exit 1, naming the files, if either is out of date

Run it after changing a key; tests/test_config_docs.py fails until you do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from igor_tui.config.docs import render_example, with_readme_table

ROOT = Path(__file__).resolve().parent.parent


def _write(path: Path, text: str) -> None:
    """Atomically: a temp file beside it, fsynced, then renamed over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    example, readme = ROOT / "igor.conf.example", ROOT / "README.md"
    wanted = {
        example: render_example(),
        readme: with_readme_table(readme.read_text(encoding="utf-8")),
    }
    stale = [path for path, text in wanted.items() if path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"config_docs: {path.name} is out of date; run scripts/config_docs.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        _write(path, wanted[path])
        print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
