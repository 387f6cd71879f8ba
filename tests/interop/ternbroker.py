"""A real `tern server` process for interop tests.

The broker binary comes from $TERN_BIN (scripts/test.sh builds it once in release mode), else .build/release/tern,
else .build/debug/tern. Each broker gets a free loopback port and its own log.dirs; its stdout and stderr go to a
file that the test report shows when a test fails. kill9() and restart() keep the port and the data directory, so
crash tests can check what survives.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Overrides every test broker gets unless a test passes its own value: make group rebalances start at once
# (Kafka's default waits 3 s for more members) and keep internal topics to one replica on a single broker.
DEFAULT_OVERRIDES: dict[str, str] = {
    "group.initial.rebalance.delay.ms": "0",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
}

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def tern_binary() -> Path:
    env = os.environ.get("TERN_BIN")
    if env:
        return Path(env)
    for cfg in ("release", "debug"):
        p = REPO_ROOT / ".build" / cfg / "tern"
        if p.exists():
            return p
    raise FileNotFoundError("no tern binary: run `swift build -c release --product tern` or set TERN_BIN")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class BrokerFailedToStart(Exception):
    pass


class TernBroker:
    """One `tern server` subprocess. Use via the `broker` / `broker_factory` fixtures."""

    def __init__(self, workdir: Path, overrides: dict[str, object] | None = None, host: str = "127.0.0.1",
                 port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "tern.log"
        self.overrides: dict[str, str] = dict(DEFAULT_OVERRIDES)
        self.overrides.update({k: _config_value(v) for k, v in (overrides or {}).items()})
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    # -- addresses ------------------------------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """host:port for any client's bootstrap.servers."""
        return f"{self.host}:{self.port}"

    @property
    def node_id(self) -> int:
        return int(self.overrides.get("node.id", self.overrides.get("broker.id", "0")))

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def command(self) -> list[str]:
        args = [str(tern_binary()), "server",
                "--override", f"listeners=PLAINTEXT://{self.host}:{self.port}",
                "--override", f"log.dirs={self.data_dir}"]
        for k, v in self.overrides.items():
            args += ["--override", f"{k}={v}"]
        return args

    def start(self, timeout: float = START_TIMEOUT_S) -> "TernBroker":
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerFailedToStart(f"tern exited with {self.proc.returncode} during start-up:\n{self.log_tail()}")
            if port_accepts(self.host, self.port):
                return self
            time.sleep(0.05)
        self.kill9()
        raise BrokerFailedToStart(f"tern did not accept connections on {self.bootstrap} within {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Graceful stop (SIGTERM); SIGKILL if it has not exited within `timeout`. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._append_log(f"===== did not stop within {timeout}s of SIGTERM: SIGKILL\n")
            self.proc.kill()
            return self.proc.wait(5)

    def kill9(self) -> None:
        """Crash the broker: SIGKILL, no chance to flush or close anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
            self._append_log("===== killed with SIGKILL by the test\n")

    def restart(self, hard: bool = False, **extra_overrides: object) -> "TernBroker":
        """Stop (SIGTERM, or SIGKILL when hard=True) and start again on the same port and data directory."""
        if hard:
            self.kill9()
        else:
            self.stop()
        self.overrides.update({k: _config_value(v) for k, v in extra_overrides.items()})
        self._wait_port_free()
        return self.start()

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _wait_port_free(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and port_accepts(self.host, self.port):
            time.sleep(0.05)

    # -- diagnostics ------------------------------------------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, max_chars: int = 8000) -> str:
        t = self.log_text()
        return t if len(t) <= max_chars else "...\n" + t[-max_chars:]

    def _append_log(self, line: str) -> None:
        with open(self.log_path, "a") as f:
            f.write(line)

    # -- files on disk ------------------------------------------------------------------------------------------------

    def partition_dir(self, topic: str, partition: int) -> Path:
        return self.data_dir / f"{topic}-{partition}"

    def segment_files(self, topic: str, partition: int) -> list[Path]:
        return sorted(self.partition_dir(topic, partition).glob("*.log"))


def _config_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
