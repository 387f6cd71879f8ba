#!/usr/bin/env python3
"""Whole-system figures for a `tern server`: start-up time, idle RSS, produce and consume throughput with
confluent-kafka (librdkafka) and kcat, broker CPU seconds per million records (from /proc), RSS under load and
with 1,000 partitions. Prints a table; never asserts (figures on shared 2-core machines are noisy).

    .venv/bin/python Benchmarks/system/bench.py [--bin .build/release/tern] [--records 1000000] [--size 100]
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


class Broker:
    def __init__(self, binary, data_dir, port):
        self.binary, self.data_dir, self.port = binary, data_dir, port
        self.proc = None

    def start(self):
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [self.binary, "server", "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
             "--override", f"log.dirs={self.data_dir}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.05).close()
                return time.monotonic() - t0
            except OSError:
                if time.monotonic() - t0 > 30:
                    raise RuntimeError("broker did not start")
                time.sleep(0.002)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"


def create_topic(bootstrap, name, partitions):
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(name, partitions, 1)])[name].result(60)


def produce_confluent(b, topic, n, size):
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "1", "linger.ms": 5, "batch.size": 1000000,
                  "queue.buffering.max.messages": 2000000, "compression.type": "none"})
    value = b"x" * size
    cpu0, t0 = proc_cpu_seconds(b.proc.pid), time.monotonic()
    for _ in range(n):
        while True:
            try:
                p.produce(topic, value, partition=0)
                break
            except BufferError:
                p.poll(0.001)
    assert p.flush(120) == 0
    return time.monotonic() - t0, proc_cpu_seconds(b.proc.pid) - cpu0


def consume_confluent(b, topic, n):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "bench", "enable.auto.commit": False,
                  "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760})
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    cpu0, t0 = proc_cpu_seconds(b.proc.pid), time.monotonic()
    while got < n:
        for m in c.consume(num_messages=100000, timeout=1.0):
            if m.error() is None:
                got += 1
    dt, cpu = time.monotonic() - t0, proc_cpu_seconds(b.proc.pid) - cpu0
    c.close()
    return dt, cpu


def kcat_produce(b, topic, n, size):
    line = b"x" * size + b"\n"
    data = line * n
    cpu0, t0 = proc_cpu_seconds(b.proc.pid), time.monotonic()
    subprocess.run(["kcat", "-P", "-b", b.bootstrap, "-t", topic, "-p", "0", "-X", "linger.ms=5",
                    "-X", "batch.size=1000000", "-X", "acks=1"], input=data, check=True)
    return time.monotonic() - t0, proc_cpu_seconds(b.proc.pid) - cpu0


def kcat_consume(b, topic, n):
    cpu0, t0 = proc_cpu_seconds(b.proc.pid), time.monotonic()
    subprocess.run(["kcat", "-C", "-b", b.bootstrap, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
                    "-c", str(n)], stdout=subprocess.DEVNULL, check=True)
    return time.monotonic() - t0, proc_cpu_seconds(b.proc.pid) - cpu0


def _latency_consumer(bootstrap, topic, n, out):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lat", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 500, "fetch.min.bytes": 1})
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
    figures include client overhead."""
    import multiprocessing
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
        p.produce(topic, str(time.monotonic_ns()).encode(), partition=0)
        p.poll(0)
    p.flush(30)
    latencies = sorted(out.get(timeout=150))
    proc.join(10)
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1e6
    return len(latencies), pick(0.5), pick(0.99), pick(0.999)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=".build/release/tern")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, nargs="+", default=[100, 1024])
    ap.add_argument("--partitions", type=int, default=1000)
    args = ap.parse_args()
    rows = []
    data = tempfile.mkdtemp(prefix="tern-bench-")
    try:
        b = Broker(os.path.abspath(args.bin), os.path.join(data, "d"), free_port())
        startup = b.start()
        time.sleep(0.5)
        rows.append(("start-up to listening, empty", f"{startup * 1000:.0f} ms"))
        rows.append(("RSS idle", f"{proc_rss_mib(b.proc.pid):.1f} MiB"))
        for size in args.size:
            n = args.records if size <= 100 else max(args.records // 4, 1000)
            t = f"bench-{size}"
            create_topic(b.bootstrap, t, 1)
            dt, cpu = produce_confluent(b, t, n, size)
            rows.append((f"confluent-kafka produce {n} x {size} B", f"{n / dt:,.0f} rec/s  {n * size / dt / 1e6:,.1f} MB/s  broker CPU {cpu / n * 1e6:.2f} s/M rec"))
            rows.append((f"RSS after produce ({size} B)", f"{proc_rss_mib(b.proc.pid):.1f} MiB"))
            dt, cpu = consume_confluent(b, t, n)
            rows.append((f"confluent-kafka consume {n} x {size} B", f"{n / dt:,.0f} rec/s  {n * size / dt / 1e6:,.1f} MB/s  broker CPU {cpu / n * 1e6:.2f} s/M rec"))
            if shutil.which("kcat"):
                t2 = f"bench-kcat-{size}"
                create_topic(b.bootstrap, t2, 1)
                dt, cpu = kcat_produce(b, t2, n, size)
                rows.append((f"kcat produce {n} x {size} B", f"{n / dt:,.0f} rec/s  broker CPU {cpu / n * 1e6:.2f} s/M rec"))
                dt, cpu = kcat_consume(b, t2, n)
                rows.append((f"kcat consume {n} x {size} B", f"{n / dt:,.0f} rec/s  broker CPU {cpu / n * 1e6:.2f} s/M rec"))
        got, p50, p99, p999 = end_to_end_latency(b, "bench-latency", 50000, 5)
        rows.append(("end-to-end latency at 50k rec/s (confluent-kafka, acks=1)", f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  p99.9 {p999:.2f} ms ({got} records)"))
        rows.append(("RSS after load", f"{proc_rss_mib(b.proc.pid):.1f} MiB"))
        if args.partitions:
            create_topic(b.bootstrap, "bench-many", args.partitions)
            time.sleep(0.5)
            rows.append((f"RSS with {args.partitions} more partitions", f"{proc_rss_mib(b.proc.pid):.1f} MiB"))
        b.stop()
        startup = b.start()
        rows.append((f"restart to listening, clean, {args.partitions + 2 * len(args.size) * 2} partitions", f"{startup * 1000:.0f} ms"))
        rows.append(("RSS after restart", f"{proc_rss_mib(b.proc.pid):.1f} MiB"))
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait()
        startup = b.start()
        rows.append(("restart after kill -9 (recovery) to listening", f"{startup * 1000:.0f} ms"))
        b.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    sys.exit(main())
