"""Issue 3 - storage through the real broker: restarts, kill -9, torn tails, retention, compaction, many partitions.

These tests look at the partition directories under log.dirs, which follow Kafka's layout:
<log.dirs>/<topic>-<partition>/<20-digit base offset>.log
"""

import os
import threading
import time

import pytest
from confluent_kafka import Producer

from clients import (check_roundtrip, consume_confluent, consume_to_end, create_topic, make_records,
                     produce_confluent, wait_for_topic, watermarks)

pytestmark = pytest.mark.broker


def test_graceful_restart_keeps_everything(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 3)
    recs = make_records(2000)
    produce_confluent(broker.bootstrap, topic_name, recs, {"acks": "all"})
    broker.restart()
    wait_for_topic(broker.bootstrap, topic_name, 3)
    check_roundtrip(recs, consume_confluent(broker.bootstrap, topic_name, 3, len(recs)))
    # Appends continue at the next offset.
    more = make_records(300, prefix="after")
    produce_confluent(broker.bootstrap, topic_name, more)
    check_roundtrip(recs + more, consume_confluent(broker.bootstrap, topic_name, 3, len(recs) + len(more)))


def test_kill9_during_produce_loses_no_acknowledged_record(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 3)
    acked: dict[tuple[int, int], bytes] = {}
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 2,
                  "message.timeout.ms": 4000, "retries": 0})

    def cb(err, msg):
        if err is None:
            acked[(msg.partition(), msg.offset())] = msg.value()

    killer = threading.Timer(1.5, broker.kill9)
    killer.start()
    i = 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        try:
            p.produce(topic_name, f"rec-{i:08d}".encode(), f"k{i % 17}".encode(), on_delivery=cb)
            i += 1
        except BufferError:
            pass
        p.poll(0.0005 if i % 100 else 0.01)
    killer.join()
    p.flush(6)  # everything in flight either acked before the kill or failed since
    p.purge()
    p.flush(1)
    assert acked, "nothing was acknowledged before the kill: the test proves nothing"
    broker.restart()
    wait_for_topic(broker.bootstrap, topic_name, 3)
    got = {(m.partition, m.offset): m.value for m in consume_to_end(broker.bootstrap, topic_name, 3)}
    lost = {k: v for k, v in acked.items() if got.get(k) != v}
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged records lost or changed, e.g. {next(iter(lost.items()))}"


def test_garbage_tail_truncated_on_restart(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 1)
    recs = make_records(500, keys=5)
    produce_confluent(broker.bootstrap, topic_name, recs)
    broker.kill9()  # a crash, so the broker must run recovery on the last segment
    segments = broker.segment_files(topic_name, 0)
    assert segments, f"no segment files in {broker.partition_dir(topic_name, 0)}"
    last = segments[-1]
    with open(last, "ab") as f:
        # A torn batch header (plausible base offset and length) followed by junk.
        f.write((500).to_bytes(8, "big") + (4000).to_bytes(4, "big") + os.urandom(300))
    broker.start()
    wait_for_topic(broker.bootstrap, topic_name, 1)
    assert watermarks(broker.bootstrap, topic_name, 1) == {0: (0, 500)}
    more = make_records(100, keys=5, prefix="after")
    delivered, _ = produce_confluent(broker.bootstrap, topic_name, more)
    assert sorted(m.offset for m in delivered) == list(range(500, 600))
    check_roundtrip(recs + more, consume_confluent(broker.bootstrap, topic_name, 1, 600))


def test_retention_advances_log_start(broker_factory, topic_name):
    """retention.bytes keeps the newest segments only; the log start offset moves to a segment boundary and a
    consumer from the beginning starts there."""
    b = broker_factory(log_retention_check_interval_ms=300)
    create_topic(b.bootstrap, topic_name, 1, {"segment.bytes": 16384, "retention.bytes": 50000})
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    for i in range(2000):
        p.produce(topic_name, b"x" * 100, f"k{i}".encode(), partition=0)
        if i % 50 == 0:
            p.flush(10)
    assert p.flush(10) == 0
    deadline = time.monotonic() + 30
    while True:
        lo, hi = watermarks(b.bootstrap, topic_name, 1)[0]
        if lo > 0:
            break
        assert time.monotonic() < deadline, "retention never deleted a segment"
        time.sleep(0.5)
    assert hi == 2000
    # A pass may have run while records were still arriving; wait until passes stop moving the start (the log is
    # within retention.bytes), then it must stay put.
    while True:
        time.sleep(1)
        now = watermarks(b.bootstrap, topic_name, 1)[0]
        if now == (lo, hi):
            break
        lo, hi = now
        assert time.monotonic() < deadline + 30, "retention kept deleting"
    assert 0 < lo < hi, "retention.bytes must keep the newest segments"
    # A consumer starting from the beginning now starts at the new log start offset.
    got = consume_confluent(b.bootstrap, topic_name, 1, hi - lo, timeout=20)
    assert [m.offset for m in got] == list(range(lo, hi))


def test_retention_ms_deletes_expired_segments(broker_factory, topic_name):
    """retention.ms: once every record is older than the limit, all of it goes, the active segment included
    (rolled first), and the log start offset reaches the log end."""
    b = broker_factory(log_retention_check_interval_ms=300)
    create_topic(b.bootstrap, topic_name, 1, {"segment.bytes": 16384, "retention.ms": 1000})
    # Batches must stay below segment.bytes, or the broker answers RECORD_LIST_TOO_LARGE (as Kafka does).
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "batch.size": 4096})
    for i in range(500):
        p.produce(topic_name, b"x" * 100, f"k{i}".encode(), partition=0)
    assert p.flush(10) == 0
    deadline = time.monotonic() + 30
    while watermarks(b.bootstrap, topic_name, 1)[0] != (500, 500):
        assert time.monotonic() < deadline, f"retention.ms did not empty the log: {watermarks(b.bootstrap, topic_name, 1)}"
        time.sleep(0.5)


def test_compaction_keeps_latest_value_per_key(broker_factory, topic_name):
    b = broker_factory(log_cleaner_backoff_ms=200)
    create_topic(b.bootstrap, topic_name, 1, {"cleanup.policy": "compact", "segment.bytes": 8192,
                                              "min.cleanable.dirty.ratio": 0.01, "min.compaction.lag.ms": 0,
                                              "delete.retention.ms": 100})
    keys, rounds = 20, 60
    latest = {}
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    for r in range(rounds):
        for k in range(keys):
            key, value = f"key-{k}".encode(), f"round-{r:03d}-key-{k}".encode() + b"." * 50
            p.produce(topic_name, value, key, partition=0)
            latest[key] = value
        p.flush(10)
    # A tombstone removes its key entirely once delete.retention.ms has passed.
    p.produce(topic_name, None, b"key-0", partition=0)
    latest.pop(b"key-0")
    for k in range(1, keys):  # push the tombstone out of the active segment
        p.produce(topic_name, latest[f"key-{k}".encode()], f"key-{k}".encode(), partition=0)
    assert p.flush(10) == 0
    total = keys * rounds + 1 + (keys - 1)  # rounds, the tombstone, the re-sent keys
    deadline = time.monotonic() + 45
    while True:
        msgs = consume_to_end(b.bootstrap, topic_name, 1)
        if len(msgs) < total // 2:
            break
        assert time.monotonic() < deadline, f"compaction did not run: still {len(msgs)} of {total} records"
        time.sleep(1)
    final = {}
    offsets = []
    for m in msgs:
        offsets.append(m.offset)
        if m.value is None:
            final.pop(m.key, None)
        else:
            final[m.key] = m.value
    assert final == latest
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert watermarks(b.bootstrap, topic_name, 1)[0][1] == total  # compaction never changes the end offset


@pytest.mark.slow
def test_restart_with_1000_partitions(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 1000, timeout=60)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20})
    for part in range(1000):
        p.produce(topic_name, f"p{part}".encode(), b"k", partition=part)
    assert p.flush(60) == 0
    t0 = time.monotonic()
    broker.restart()
    wait_for_topic(broker.bootstrap, topic_name, 1000, timeout=60)
    print(f"restart with 1000 partitions took {time.monotonic() - t0:.2f}s")
    marks = watermarks(broker.bootstrap, topic_name, 1000, timeout=30)
    assert all(v == (0, 1) for v in marks.values()), {k: v for k, v in marks.items() if v != (0, 1)}
    got = consume_to_end(broker.bootstrap, topic_name, 1000, timeout=60)
    assert sorted((m.partition, m.value) for m in got) == [(i, f"p{i}".encode()) for i in range(1000)]
