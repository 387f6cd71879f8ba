"""Produce / consume / admin helpers, one set per client library, all returning the same `Msg` shape.

Consumers here use manual assignment (no group), so storage and fetch tests do not depend on the group coordinator;
group tests build their own consumers. Every wait is bounded by a timeout and raises AssertionError when it runs out.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Rec:
    """A record to send."""
    key: bytes | None
    value: bytes
    headers: Headers = ()


@dataclass(frozen=True)
class Msg:
    """A record as a consumer (or a delivery report) saw it."""
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp: int | None = None


def make_records(n: int, keys: int = 16, prefix: str = "v", headers: bool = True, pad: int = 40) -> list[Rec]:
    """n keyed records; value carries a global sequence number so per-key order can be checked."""
    out = []
    for i in range(n):
        h: Headers = (("seq", str(i).encode()), ("origin", b"tern-interop")) if headers else ()
        out.append(Rec(f"key-{i % keys}".encode(), f"{prefix}-{i:07d}-".encode() + b"x" * pad, h))
    return out


def _norm_headers(h) -> Headers:
    if not h:
        return ()
    return tuple((k, v if isinstance(v, bytes) or v is None else str(v).encode()) for k, v in h)


def check_roundtrip(sent: list[Rec], got: list[Msg], start_offset: int = 0) -> None:
    """All sent records came back once, intact; offsets dense per partition; per-key order kept."""
    sent_set = sorted((r.key, r.value, r.headers) for r in sent)
    got_set = sorted((m.key, m.value, m.headers) for m in got)
    assert len(got) == len(sent), f"sent {len(sent)} records, consumed {len(got)}"
    assert got_set == sent_set, "consumed records differ from the records sent (key, value or headers)"
    by_partition: dict[int, list[Msg]] = defaultdict(list)
    for m in got:
        by_partition[m.partition].append(m)
    for p, msgs in by_partition.items():
        offsets = [m.offset for m in msgs]
        assert offsets == list(range(start_offset, start_offset + len(msgs))), f"partition {p}: offsets not dense"
    key_partition: dict[bytes | None, int] = {}
    seqs: dict[bytes | None, list[bytes]] = defaultdict(list)
    for m in sorted(got, key=lambda m: (m.partition, m.offset)):
        assert key_partition.setdefault(m.key, m.partition) == m.partition, f"key {m.key!r} in two partitions"
        seqs[m.key].append(m.value)
    sent_seqs: dict[bytes | None, list[bytes]] = defaultdict(list)
    for r in sent:
        sent_seqs[r.key].append(r.value)
    for k, values in seqs.items():
        assert values == sent_seqs[k], f"key {k!r}: order differs from produce order"


# ---- confluent-kafka (librdkafka) ----------------------------------------------------------------------------------


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, name: str, partitions: int = 3, config: dict | None = None,
                 timeout: float = 20.0) -> None:
    # Keep the client referenced until the future resolves: a dropped AdminClient cancels it (_DESTROY).
    a = admin(bootstrap)
    fs = a.create_topics([NewTopic(name, partitions, 1, config={k: str(v) for k, v in (config or {}).items()})],
                         operation_timeout=timeout, request_timeout=timeout)
    fs[name].result(timeout=timeout)
    wait_for_topic(bootstrap, name, partitions, timeout)


def wait_for_topic(bootstrap: str, name: str, partitions: int, timeout: float = 20.0) -> None:
    a = admin(bootstrap)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = a.list_topics(topic=name, timeout=5)
        t = md.topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == partitions and \
                all(p.leader >= 0 for p in t.partitions.values()):
            return
        time.sleep(0.1)
    raise AssertionError(f"topic {name} with {partitions} partitions not visible within {timeout}s")


def produce_confluent(bootstrap: str, topic: str, records: list[Rec], conf: dict | None = None,
                      timeout: float = 60.0, raise_on_error: bool = True) -> tuple[list[Msg], list[tuple[Rec, KafkaError]]]:
    """Produce with librdkafka; returns (delivered, failed) from delivery reports."""
    delivered: list[Msg] = []
    failed: list[tuple[Rec, KafkaError]] = []
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "message.timeout.ms": int(timeout * 1000 * 0.8),
                  **(conf or {})})

    def report(rec: Rec):
        def cb(err, msg):
            if err is not None:
                failed.append((rec, err))
            else:
                delivered.append(Msg(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(),
                                     _norm_headers(msg.headers()), msg.timestamp()[1]))
        return cb

    for r in records:
        while True:
            try:
                p.produce(topic, r.value, r.key, headers=list(r.headers) or None, on_delivery=report(r))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    remaining = p.flush(timeout)
    assert remaining == 0, f"{remaining} records not delivered within {timeout}s"
    if raise_on_error and failed:
        raise AssertionError(f"{len(failed)} deliveries failed, first: {failed[0][1]}")
    return delivered, failed


def consume_confluent(bootstrap: str, topic: str, partitions: int, count: int, timeout: float = 30.0,
                      conf: dict | None = None, start: int | None = None) -> list[Msg]:
    """Read `count` records from all partitions by assignment (offset `start`, default the beginning)."""
    from confluent_kafka import OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tern-assign-only", "enable.auto.commit": False,
                  "enable.partition.eof": False, **(conf or {})})
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING if start is None else start) for p in range(partitions)])
        out: list[Msg] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error() is not None:
                    raise AssertionError(f"consumer error: {m.error()}")
                out.append(Msg(m.topic(), m.partition(), m.offset(), m.key(), m.value(), _norm_headers(m.headers()),
                               m.timestamp()[1]))
        assert len(out) >= count, f"consumed {len(out)} of {count} records within {timeout}s"
        return out
    finally:
        c.close()


# ---- kafka-python ----------------------------------------------------------------------------------------------------


def produce_kafka_python(bootstrap: str, topic: str, records: list[Rec], timeout: float = 60.0, **conf) -> list[Msg]:
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, request_timeout_ms=int(timeout * 1000 / 2), **conf)
    try:
        futures = [(r, p.send(topic, value=r.value, key=r.key, headers=list(r.headers))) for r in records]
        p.flush(timeout)
        out = []
        for r, f in futures:
            md = f.get(timeout=timeout)
            out.append(Msg(md.topic, md.partition, md.offset, r.key, r.value, r.headers))
        return out
    finally:
        p.close(timeout=10)


def consume_kafka_python(bootstrap: str, topic: str, partitions: int, count: int, timeout: float = 30.0) -> list[Msg]:
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", consumer_timeout_ms=int(timeout * 1000))
    try:
        tps = [KTP(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        out: list[Msg] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for tp, msgs in c.poll(timeout_ms=500, max_records=2000).items():
                for m in msgs:
                    out.append(Msg(m.topic, m.partition, m.offset, m.key, m.value, _norm_headers(m.headers),
                                   m.timestamp))
        assert len(out) >= count, f"consumed {len(out)} of {count} records within {timeout}s"
        return out
    finally:
        c.close()


# ---- aiokafka ----------------------------------------------------------------------------------------------------------


def produce_aiokafka(bootstrap: str, topic: str, records: list[Rec], timeout: float = 60.0, **conf) -> list[Msg]:
    from aiokafka import AIOKafkaProducer

    async def run() -> list[Msg]:
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, request_timeout_ms=int(timeout * 1000 / 2),
                             **conf)
        await asyncio.wait_for(p.start(), timeout)
        try:
            futs = [await p.send(topic, value=r.value, key=r.key, headers=list(r.headers)) for r in records]
            mds = await asyncio.wait_for(asyncio.gather(*futs), timeout)
            return [Msg(md.topic, md.partition, md.offset, r.key, r.value, r.headers) for r, md in zip(records, mds)]
        finally:
            await asyncio.wait_for(p.stop(), 15)

    return asyncio.run(run())


def consume_aiokafka(bootstrap: str, topic: str, partitions: int, count: int, timeout: float = 30.0) -> list[Msg]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as ATP

    async def run() -> list[Msg]:
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest")
        await asyncio.wait_for(c.start(), timeout)
        try:
            tps = [ATP(topic, p) for p in range(partitions)]
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            out: list[Msg] = []
            deadline = time.monotonic() + timeout
            while len(out) < count and time.monotonic() < deadline:
                batches = await c.getmany(timeout_ms=500, max_records=2000)
                for tp, msgs in batches.items():
                    for m in msgs:
                        out.append(Msg(m.topic, m.partition, m.offset, m.key, m.value, _norm_headers(m.headers),
                                       m.timestamp))
            assert len(out) >= count, f"consumed {len(out)} of {count} records within {timeout}s"
            return out
        finally:
            await asyncio.wait_for(c.stop(), 15)

    return asyncio.run(run())


# ---- kcat ---------------------------------------------------------------------------------------------------------------


def kcat(*args: str, input: bytes | None = None, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess:
    cp = subprocess.run(["kcat", *args], input=input, capture_output=True, timeout=timeout)
    if check and cp.returncode != 0:
        raise AssertionError(f"kcat {' '.join(args)} exited {cp.returncode}: {cp.stderr.decode(errors='replace')}")
    return cp


def produce_kcat(bootstrap: str, topic: str, records: list[Rec], header: tuple[str, str] = ("origin", "kcat")) -> None:
    """kcat -P with keys (tab-delimited lines) and one header on every record. Values must not contain tabs/newlines."""
    lines = b"".join(r.key + b"\t" + r.value + b"\n" for r in records)
    kcat("-P", "-b", bootstrap, "-t", topic, "-K", "\t", "-H", f"{header[0]}={header[1]}", "-X", "linger.ms=5",
         input=lines)


def consume_kcat(bootstrap: str, topic: str, count: int | None = None, timeout: float = 60.0) -> list[Msg]:
    """kcat -C from the beginning until the end of every partition (-e), JSON envelope per record."""
    args = ["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q"]
    if count is not None:
        args += ["-c", str(count)]
    cp = kcat(*args, timeout=timeout)
    out = []
    for line in cp.stdout.decode().splitlines():
        if not line.strip():
            continue
        j = json.loads(line)
        hs = j.get("headers") or []
        headers = tuple((hs[i], hs[i + 1].encode() if hs[i + 1] is not None else None) for i in range(0, len(hs), 2))
        key = j.get("key")
        val = j.get("payload")
        out.append(Msg(j["topic"], j["partition"], j["offset"], key.encode() if key is not None else None,
                       val.encode() if val is not None else None, headers, j.get("ts")))
    return out


def watermarks(bootstrap: str, topic: str, partitions: int, timeout: float = 10.0) -> dict[int, tuple[int, int]]:
    """partition -> (log start offset, high watermark), asked of the broker (ListOffsets)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tern-watermarks", "enable.auto.commit": False})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
                for p in range(partitions)}
    finally:
        c.close()


def consume_to_end(bootstrap: str, topic: str, partitions: int, timeout: float = 30.0) -> list[Msg]:
    """Everything from each partition's log start offset up to its current high watermark."""
    from confluent_kafka import OFFSET_BEGINNING
    marks = watermarks(bootstrap, topic, partitions)
    want = {p: hi for p, (lo, hi) in marks.items() if hi > lo}
    if not want:
        return []
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tern-assign-only", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in want])
        out: list[Msg] = []
        pos = {p: -1 for p in want}
        deadline = time.monotonic() + timeout
        while any(pos[p] + 1 < hi for p, hi in want.items()) and time.monotonic() < deadline:
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error() is not None:
                    raise AssertionError(f"consumer error: {m.error()}")
                if m.offset() < want.get(m.partition(), 0):
                    out.append(Msg(m.topic(), m.partition(), m.offset(), m.key(), m.value(),
                                   _norm_headers(m.headers()), m.timestamp()[1]))
                    pos[m.partition()] = max(pos[m.partition()], m.offset())
        short = {p: (pos[p], hi) for p, hi in want.items() if pos[p] + 1 < hi}
        assert not short, f"did not reach the high watermark within {timeout}s: partition -> (last read, hw) {short}"
        return out
    finally:
        c.close()
