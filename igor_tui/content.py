"""Content-addressed copies of users' kernels and initrds (sha256), shared and garbage-collected."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable

from .errors import ValidationError

_HASH = re.compile(r"^[0-9a-f]{64}$")


class ContentStore:
    """Files named by their sha256 under one directory.

    Copying happens when a reservation is made, so a user may delete or rebuild their kernel afterwards
    without changing what the reservation boots; identical files are stored once.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def path(self, digest: str) -> str:
        return os.path.join(self.directory, digest)

    def add(self, source: str, what: str) -> str:
        """Copy `source` in (if not already present) and return its sha256; `what` names it in errors."""
        try:
            src = open(source, "rb")  # noqa: SIM115 - closed below, after the copy is renamed
        except FileNotFoundError:
            raise ValidationError(f"{what} {source}: no such file") from None
        except IsADirectoryError:
            raise ValidationError(f"{what} {source}: is a directory, expected a file") from None
        except PermissionError:
            raise ValidationError(f"{what} {source}: not readable by igor (make it world-readable)") from None
        os.makedirs(self.directory, mode=0o755, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".incoming.")
        try:
            with src, os.fdopen(fd, "wb") as out:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            name = digest.hexdigest()
            os.chmod(tmp, 0o644)
            if os.path.exists(self.path(name)):
                os.unlink(tmp)
            else:
                os.replace(tmp, self.path(name))
            return name
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def collect(self, referenced: Iterable[str]) -> list[str]:
        """Delete every stored file no reservation references; idempotent (missing files are fine)."""
        keep = set(referenced)
        removed: list[str] = []
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return removed
        for name in names:
            if _HASH.match(name) and name not in keep:
                try:
                    os.unlink(self.path(name))
                    removed.append(name)
                except FileNotFoundError:
                    pass
        return removed
