"""Test-side handle on a group_member.py subprocess: its assignment history, waits, SIGTERM / SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

SCRIPT = Path(__file__).with_name("group_member.py")


class GroupMember:
    def __init__(self, client: str, bootstrap: str, group: str, topic: str, conf: dict | None = None,
                 name: str = "") -> None:
        self.name = name or client
        self.events: list[dict] = []
        self.stderr_lines: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen([sys.executable, str(SCRIPT), client, bootstrap, group, topic, json.dumps(conf or {})],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True).start()

    def _read(self, stream, is_stdout: bool) -> None:
        for line in stream:
            with self._lock:
                if is_stdout:
                    try:
                        self.events.append(json.loads(line))
                    except ValueError:
                        self.stderr_lines.append(line)
                else:
                    self.stderr_lines.append(line)

    # -- what it saw ----------------------------------------------------------------------------------------------------

    def assignments(self) -> list[set[tuple[str, int]]]:
        with self._lock:
            return [{tuple(tp) for tp in e["assigned"]} for e in self.events if "assigned" in e]

    def assignment(self) -> set[tuple[str, int]]:
        a = self.assignments()
        return a[-1] if a else set()

    def partitions(self) -> set[int]:
        return {p for _, p in self.assignment()}

    def describe(self) -> str:
        with self._lock:
            return f"{self.name}: events={self.events[-10:]} stderr={''.join(self.stderr_lines[-20:])}"

    # -- lifecycle ------------------------------------------------------------------------------------------------------

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def wait_until(cond, timeout: float, what: str, members: list[GroupMember] = (), interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(interval)
    details = "\n".join(m.describe() for m in members)
    raise AssertionError(f"timed out after {timeout}s waiting for: {what}\n{details}")


def balanced(members: list[GroupMember], partitions: int) -> bool:
    """Every partition owned by exactly one member and every member owns at least one."""
    owned = [m.partitions() for m in members]
    if any(not o for o in owned):
        return False
    allp = [p for o in owned for p in o]
    return sorted(allp) == list(range(partitions))
