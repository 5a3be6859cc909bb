"""Progress and messages on stderr, at three levels of chattiness."""

import sys
import threading


class Log:
    def __init__(self, level: int = 1, stream=sys.stderr):
        self.level = level  # 0 quiet, 1 normal, 2 verbose
        self.stream = stream
        self.tty = stream.isatty()
        self._lock = threading.Lock()
        self._transient = False

    def _write(self, text: str, transient: bool = False) -> None:
        with self._lock:
            if self._transient:
                self.stream.write("\r\x1b[K")
            self.stream.write(text if transient else text + "\n")
            self._transient = transient
            self.stream.flush()

    def info(self, text: str) -> None:
        if self.level >= 1:
            self._write(text)

    def detail(self, text: str) -> None:
        if self.level >= 2:
            self._write(text)

    def warn(self, text: str) -> None:
        self._write(f"warning: {text}")

    def progress(self, text: str) -> None:
        """A status line that the next message overwrites (terminals only)."""
        if self.level >= 2:
            self._write(text)
        elif self.level == 1 and self.tty:
            self._write(text, transient=True)
