"""A real ZooKeeper for cluster tests: Debian's `zookeeper` package run on free loopback ports.

`ZooKeeperServer` runs `org.apache.zookeeper.server.ZooKeeperServerMain PORT DATADIR TICKTIME` (what
zkServer.sh starts, minus the config file) in a temporary directory. The tick time is 500 ms so sessions may be
as short as 1 s (ZooKeeper's minimum is two ticks), which keeps failover tests fast. The `zookeeper` fixture
skips the test with a clear message when the package (or java) is missing.

`ZooKeeperEnsemble` runs a quorum of `QuorumPeerMain` nodes, each with its own zoo.cfg (`server.N=127.0.0.1:
peerPort:electionPort`) and `myid` file, so tests can kill single nodes (a quorum of 3 survives one loss).
Each node answers the four-letter word `srvr`, which tells whether it serves and whether it leads.
"""

from __future__ import annotations

import shutil
import socket
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


def four_letter_word(port: int, word: str, timeout: float = 2.0) -> str:
    """A ZooKeeper four-letter command's answer ("" when the node does not answer)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


class ZooKeeperNode:
    """One member of an ensemble: `QuorumPeerMain zoo.cfg` with its own data directory and myid."""

    def __init__(self, workdir: Path, myid: int) -> None:
        self.myid = myid
        self.port = free_port()
        self.peer_port = free_port()
        self.election_port = free_port()
        self.dir = workdir / f"zk{myid}"
        self.data_dir = self.dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "myid").write_text(f"{myid}\n")
        self.cfg_path = self.dir / "zoo.cfg"
        self.log_path = self.dir / "zookeeper.log"
        self.proc: subprocess.Popen | None = None

    def write_config(self, tick_ms: int, servers: list["ZooKeeperNode"]) -> None:
        lines = [f"tickTime={tick_ms}", "initLimit=10", "syncLimit=5", f"dataDir={self.data_dir}",
                 f"clientPort={self.port}", "clientPortAddress=127.0.0.1", "admin.enableServer=false",
                 "4lw.commands.whitelist=srvr", "maxSessionTimeout=60000"]
        lines += [f"server.{n.myid}=127.0.0.1:{n.peer_port}:{n.election_port}" for n in servers]
        self.cfg_path.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["java", "-Xmx128m", "-cp", ZK_CLASSPATH, "org.apache.zookeeper.server.quorum.QuorumPeerMain",
             str(self.cfg_path)], stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def mode(self) -> str | None:
        """"leader" / "follower" once the node serves in a quorum, else None."""
        for line in four_letter_word(self.port, "srvr").splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None


class ZooKeeperEnsemble:
    """A quorum of `size` ZooKeeper nodes on loopback; `connect` lists them all."""

    def __init__(self, workdir: Path, size: int = 3, tick_ms: int = 500) -> None:
        self.tick_ms = tick_ms
        self.nodes = [ZooKeeperNode(workdir, i + 1) for i in range(size)]
        for n in self.nodes:
            n.write_config(tick_ms, self.nodes)

    @property
    def connect(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout: float = 60.0) -> "ZooKeeperEnsemble":
        for n in self.nodes:
            n.start()
        self.wait_for_quorum(timeout)
        return self

    def wait_for_quorum(self, timeout: float = 60.0) -> None:
        """Until every running node serves (one leader among them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for n in self.nodes:
                if n.proc is not None and n.proc.poll() is not None and n.proc.returncode not in (-9, 137):
                    raise RuntimeError(f"ZooKeeper node {n.myid} exited with {n.proc.returncode}: see {n.log_path}")
            modes = [n.mode() for n in self.nodes if n.is_running()]
            if modes and all(modes) and modes.count("leader") == 1:
                return
            time.sleep(0.2)
        raise RuntimeError(f"ZooKeeper ensemble has no quorum within {timeout}s: see {[str(n.log_path) for n in self.nodes]}")

    def leader(self) -> ZooKeeperNode:
        return next(n for n in self.nodes if n.is_running() and n.mode() == "leader")

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


@pytest.fixture
def zookeeper_ensemble(tmp_path):
    reason = zookeeper_available()
    if reason:
        pytest.skip(reason)
    ensemble = ZooKeeperEnsemble(tmp_path)
    try:
        ensemble.start()
    except Exception:
        ensemble.stop()
        raise
    yield ensemble
    ensemble.stop()


@pytest.fixture
def zookeeper(tmp_path):
    reason = zookeeper_available()
    if reason:
        pytest.skip(reason)
    zk = ZooKeeperServer(tmp_path).start()
    yield zk
    zk.stop()
