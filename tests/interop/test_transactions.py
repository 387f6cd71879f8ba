"""Transactions (KIP-98) with confluent-kafka's transactional producer and read_committed consumers: commit, abort,
consume-transform-produce with send_offsets_to_transaction, fencing by a second producer of the same transactional
id, and the last stable offset holding read_committed consumers back while a transaction is open."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from clients import create_topic

pytestmark = pytest.mark.transactions


def txn_producer(bootstrap: str, txn_id: str, **extra) -> Producer:
    conf = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "transaction.timeout.ms": 60000}
    conf.update(extra)
    p = Producer(conf)
    p.init_transactions(30)
    return p


def read(bootstrap: str, topic: str, partitions: int, isolation: str, expect: int | None = None,
         quiet: float = 2.0, timeout: float = 20.0) -> list:
    """Every record from offset 0 under `isolation`, until `expect` records came or nothing came for `quiet` s."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:6]}",
                  "isolation.level": isolation, "enable.auto.commit": False, "enable.partition.eof": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                if expect is None and time.monotonic() - last > quiet:
                    break
                if expect is not None and len(got) >= expect and time.monotonic() - last > 0.5:
                    break
                continue
            if m.error():
                continue
            got.append(m)
            last = time.monotonic()
        return got
    finally:
        c.close()


def lso(bootstrap: str, topic: str, partition: int) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lso", "isolation.level": "read_committed"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)[1]
    finally:
        c.close()


def test_commit_visible_to_read_committed(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 2)
    p = txn_producer(broker.bootstrap, f"tx-{uuid.uuid4().hex[:6]}")
    p.begin_transaction()
    for i in range(100):
        p.produce(topic_name, value=f"v{i}".encode(), key=str(i).encode(), partition=i % 2)
    p.commit_transaction(30)
    got = read(broker.bootstrap, topic_name, 2, "read_committed", expect=100)
    assert sorted(m.value() for m in got) == sorted(f"v{i}".encode() for i in range(100))
    # The commit marker takes an offset: the log end is past the records.
    assert lso(broker.bootstrap, topic_name, 0) == 51


def test_abort_hidden_from_read_committed(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 1)
    p = txn_producer(broker.bootstrap, f"tx-{uuid.uuid4().hex[:6]}")
    p.begin_transaction()
    for i in range(20):
        p.produce(topic_name, value=f"aborted{i}".encode())
    p.flush()
    p.abort_transaction(30)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic_name, value=f"kept{i}".encode())
    p.commit_transaction(30)
    committed = read(broker.bootstrap, topic_name, 1, "read_committed", expect=5)
    assert [m.value() for m in committed] == [f"kept{i}".encode() for i in range(5)]
    uncommitted = read(broker.bootstrap, topic_name, 1, "read_uncommitted", expect=25)
    assert [m.value() for m in uncommitted] == [f"aborted{i}".encode() for i in range(20)] + [f"kept{i}".encode() for i in range(5)]


def test_consume_transform_produce(broker, topic_name):
    src, dst, group = topic_name + "-in", topic_name + "-out", f"g-{uuid.uuid4().hex[:6]}"
    create_topic(broker.bootstrap, src, 1)
    create_topic(broker.bootstrap, dst, 1)
    plain = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(10):
        plain.produce(src, value=f"in{i}".encode())
    plain.flush(10)

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    consumer.subscribe([src])
    p = txn_producer(broker.bootstrap, f"tx-{uuid.uuid4().hex[:6]}")
    seen = []
    deadline = time.monotonic() + 30
    while len(seen) < 10 and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is None or m.error():
            continue
        seen.append(m)
    assert len(seen) == 10

    # An aborted attempt first: its offsets must not count.
    p.begin_transaction()
    p.produce(dst, value=b"never")
    p.send_offsets_to_transaction([TopicPartition(src, 0, 5)], consumer.consumer_group_metadata(), 30)
    p.abort_transaction(30)
    assert consumer.committed([TopicPartition(src, 0)], timeout=10)[0].offset < 0

    p.begin_transaction()
    for m in seen:
        p.produce(dst, value=m.value().replace(b"in", b"out"))
    p.send_offsets_to_transaction([TopicPartition(src, 0, seen[-1].offset() + 1)], consumer.consumer_group_metadata(), 30)
    p.commit_transaction(30)
    assert consumer.committed([TopicPartition(src, 0)], timeout=10)[0].offset == 10
    consumer.close()
    out = read(broker.bootstrap, dst, 1, "read_committed", expect=10)
    assert [m.value() for m in out] == [f"out{i}".encode() for i in range(10)]

    # The committed group offset survives a restart (replayed from __consumer_offsets with its marker).
    broker.restart()
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        assert c.committed([TopicPartition(src, 0)], timeout=20)[0].offset == 10
    finally:
        c.close()


def test_second_producer_fences_first(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 1)
    txn_id = f"tx-{uuid.uuid4().hex[:6]}"
    first = txn_producer(broker.bootstrap, txn_id)
    first.begin_transaction()
    first.produce(topic_name, value=b"zombie")
    first.flush(10)
    second = txn_producer(broker.bootstrap, txn_id)  # aborts the first one's open transaction
    second.begin_transaction()
    second.produce(topic_name, value=b"live")
    second.commit_transaction(30)
    with pytest.raises(KafkaException) as failure:
        first.produce(topic_name, value=b"zombie2")
        first.commit_transaction(30)
    assert failure.value.args[0].fatal() or "fenced" in str(failure.value).lower()
    got = read(broker.bootstrap, topic_name, 1, "read_committed", expect=1)
    assert [m.value() for m in got] == [b"live"]


def test_open_transaction_holds_lso(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 1)
    plain = Producer({"bootstrap.servers": broker.bootstrap})
    plain.produce(topic_name, value=b"before")
    plain.flush(10)
    p = txn_producer(broker.bootstrap, f"tx-{uuid.uuid4().hex[:6]}")
    p.begin_transaction()
    p.produce(topic_name, value=b"in-txn")
    p.flush(10)
    plain.produce(topic_name, value=b"after")
    plain.flush(10)
    assert lso(broker.bootstrap, topic_name, 0) == 1
    # read_committed stops at the open transaction: "after" is behind it.
    assert [m.value() for m in read(broker.bootstrap, topic_name, 1, "read_committed", quiet=1.5)] == [b"before"]
    assert len(read(broker.bootstrap, topic_name, 1, "read_uncommitted", expect=3)) == 3
    p.commit_transaction(30)
    got = read(broker.bootstrap, topic_name, 1, "read_committed", expect=3)
    assert [m.value() for m in got] == [b"before", b"in-txn", b"after"]
    assert lso(broker.bootstrap, topic_name, 0) == 4


def test_transaction_timeout_aborts(broker_factory, topic_name):
    broker = broker_factory()
    create_topic(broker.bootstrap, topic_name, 1)
    p = txn_producer(broker.bootstrap, f"tx-{uuid.uuid4().hex[:6]}", **{"transaction.timeout.ms": 2000})
    p.begin_transaction()
    p.produce(topic_name, value=b"timed-out")
    p.flush(10)
    deadline = time.monotonic() + 15
    while lso(broker.bootstrap, topic_name, 0) != 2 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert lso(broker.bootstrap, topic_name, 0) == 2  # record + ABORT marker
    assert read(broker.bootstrap, topic_name, 1, "read_committed", quiet=1.0) == []


def test_open_transaction_survives_restart(broker, topic_name):
    """__transaction_state is replayed and the partition rebuilds its open transaction from the log: the LSO still
    holds after a restart, and the producer commits once it reconnects."""
    create_topic(broker.bootstrap, topic_name, 1)
    p = txn_producer(broker.bootstrap, f"tx-{uuid.uuid4().hex[:6]}")
    p.begin_transaction()
    for i in range(3):
        p.produce(topic_name, value=f"r{i}".encode())
    p.flush(10)
    broker.restart()
    assert lso(broker.bootstrap, topic_name, 0) == 0
    p.commit_transaction(30)
    got = read(broker.bootstrap, topic_name, 1, "read_committed", expect=3)
    assert [m.value() for m in got] == [b"r0", b"r1", b"r2"]
