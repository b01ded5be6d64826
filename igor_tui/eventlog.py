"""The structured action log: one JSON object per line (who, what, when, nodes), for humans and stats."""

from __future__ import annotations

import json
import os
from datetime import datetime

from .typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any


class EventLog:
    """Appends events to `logfile`; a failure is remembered, not raised, so logging cannot lose a booking."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.error = ""

    def append(self, when: datetime, event: str, **fields: Any) -> None:
        if not self.path:
            return
        record = {"time": when.isoformat(), "event": event, **fields}
        line = json.dumps(record, separators=(",", ":"), sort_keys=False, default=str) + "\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        except OSError as err:
            self.error = f"cannot write log {self.path}: {err.strerror}"
