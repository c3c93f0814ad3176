"""Every command the dashboard sends, with who sent it and how it ended (JSON lines, appended)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any


class CommandLog:
    """Appends one JSON line per command to a file (fsynced) and keeps the recent ones in memory.

    Repeated jog steps of one held button (same user, arm, frame, axis and direction, within
    `coalesce_s`) are one entry in memory with a count; the file still gets every step.
    """

    def __init__(self, path: Path | None, keep: int = 200, coalesce_s: float = 1.0) -> None:
        self.path = Path(path) if path else None
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self.coalesce_s = coalesce_s
        self._lock = threading.Lock()
        self.version = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, user: str, command: str, arguments: dict[str, Any], ok: bool, message: str) -> dict[str, Any]:
        entry = {
            "time": time.time(),
            "user": user,
            "command": command,
            "arguments": arguments,
            "ok": ok,
            "message": message,
        }
        with self._lock:
            if self.path is not None:
                with self.path.open("a") as handle:
                    handle.write(json.dumps(entry, sort_keys=True) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
            last = self.recent[-1] if self.recent else None
            if (
                last is not None
                and command == "jog"
                and last["command"] == "jog"
                and last["user"] == user
                and last["arguments"] == arguments
                and last["ok"] == ok
                and entry["time"] - last["time"] < self.coalesce_s
            ):
                last.update(time=entry["time"], message=message, count=last.get("count", 1) + 1)
            else:
                self.recent.append(entry)
            self.version += 1
        return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self.recent]
