"""A real ZooKeeper for cluster tests: Debian's `zookeeper` package run standalone on a free loopback port.

`ZooKeeperServer` runs `org.apache.zookeeper.server.ZooKeeperServerMain PORT DATADIR TICKTIME` (what
zkServer.sh starts, minus the config file) in a temporary directory. The tick time is 500 ms so sessions may be
as short as 1 s (ZooKeeper's minimum is two ticks), which keeps failover tests fast. The `zookeeper` fixture
skips the test with a clear message when the package (or java) is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ternbroker import free_port, port_accepts

ZK_JAR = Path("/usr/share/java/zookeeper.jar")
ZK_CLASSPATH = f"/etc/zookeeper/conf:{ZK_JAR}"


def zookeeper_available() -> str | None:
    """None when a ZooKeeper can be started, else why not."""
    if not ZK_JAR.exists():
        return f"ZooKeeper not installed ({ZK_JAR} missing): apt-get install zookeeper"
    if shutil.which("java") is None:
        return "java not found (ZooKeeper needs it)"
    return None


class ZooKeeperServer:
    def __init__(self, workdir: Path, tick_ms: int = 500) -> None:
        self.port = free_port()
        self.data_dir = workdir / "zk-data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "zookeeper.log"
        self.tick_ms = tick_ms
        self.proc: subprocess.Popen | None = None

    @property
    def connect(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "ZooKeeperServer":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["java", "-Xmx128m", "-Dzookeeper.admin.enableServer=false", "-cp", ZK_CLASSPATH,
             "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.port), str(self.data_dir), str(self.tick_ms)],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ZooKeeper exited with {self.proc.returncode}: see {self.log_path}")
            if port_accepts("127.0.0.1", self.port):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"ZooKeeper did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def zookeeper(tmp_path):
    reason = zookeeper_available()
    if reason:
        pytest.skip(reason)
    zk = ZooKeeperServer(tmp_path).start()
    yield zk
    zk.stop()
