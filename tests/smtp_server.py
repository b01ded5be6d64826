"""A small real SMTP server on 127.0.0.1 for the notify tests: speaks enough RFC 5321 for smtplib (EHLO,
MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) and keeps every message it accepted.

`refuse` holds recipient addresses answered with 550, so a test can make one owner's mail fail.
"""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType


@dataclass(frozen=True)
class Received:
    """One accepted message: the envelope and the parsed message."""

    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        content = part.get_content()
        assert isinstance(content, str)
        return content.replace("\r\n", "\n")  # SMTP carries CRLF line ends


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        smtp = self.server.smtp
        self._reply("220 igor-test ESMTP")
        sender = ""
        rcpts: list[str] = []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            arg = line[4:].strip()
            if verb in ("EHLO", "HELO"):
                self._reply("250-igor-test" if verb == "EHLO" else "250 igor-test")
                if verb == "EHLO":
                    self._reply("250 8BITMIME")
            elif verb == "MAIL":
                sender, rcpts = arg.partition(":")[2].strip().strip("<>"), []
                self._reply("250 OK")
            elif verb == "RCPT":
                rcpt = arg.partition(":")[2].strip().strip("<>")
                if rcpt in smtp.refuse:
                    self._reply(f"550 no such mailbox: {rcpt}")
                else:
                    rcpts.append(rcpt)
                    self._reply("250 OK")
            elif verb == "DATA":
                if not rcpts:
                    self._reply("503 need RCPT first")
                    continue
                self._reply("354 end with <CRLF>.<CRLF>")
                lines: list[bytes] = []
                while True:
                    chunk = self.rfile.readline()
                    if not chunk or chunk in (b".\r\n", b".\n"):
                        break
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                msg = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                assert isinstance(msg, EmailMessage)
                with smtp.lock:
                    smtp.received.append(Received(sender, tuple(rcpts), msg))
                self._reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    smtp: SmtpServer


@dataclass
class SmtpServer:
    """Start with `with SmtpServer() as smtp:`; `smtp.port` is where it listens on 127.0.0.1."""

    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    _server: _Server | None = None

    def __enter__(self) -> SmtpServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.smtp = self
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def take(self) -> list[Received]:
        """The messages received since the last take."""
        with self.lock:
            got, self.received[:] = list(self.received), []
        return got
