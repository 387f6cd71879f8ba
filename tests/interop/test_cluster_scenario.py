"""Issue 6's acceptance scenario in one test: ZooKeeper and 3 brokers, a topic with replication factor 3 and
min.insync.replicas=2, an idempotent confluent-kafka producer with acks=all writing all along, and a consumer group
reading all along, while the test kills the leader (kill -9), restarts it, then kills the new leader.

Afterwards every acknowledged record is readable exactly once and in order, the two surviving replicas hold
byte-identical logs, and the group consumed every acknowledged record (at least once) through both failovers.
"""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Consumer, Producer

from test_cluster import SESSION_MS, create_topic, make_cluster, partition_meta, read_all, wait_for
from zk import zookeeper  # noqa: F401  (fixture)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


class AckLog:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: list[tuple[float, str]] = []
        self.failed: list[str] = []

    def on_delivery(self, err, msg) -> None:
        with self.lock:
            if err is None:
                self.acked.append((time.monotonic(), msg.value().decode()))
            else:
                self.failed.append(f"{msg.value().decode()}: {err}")

    def acked_after(self, t: float) -> bool:
        with self.lock:
            return any(at > t for at, _ in self.acked[-5:])

    def values(self) -> list[str]:
        with self.lock:
            return [v for _, v in self.acked]


class GroupReader(threading.Thread):
    """One group member polling until told to stop; what it saw, in order."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        super().__init__(daemon=True)
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                                  "enable.auto.commit": True, "auto.commit.interval.ms": 200,
                                  "session.timeout.ms": 6000, "topic.metadata.refresh.interval.ms": 1000})
        self.consumer.subscribe([topic])
        self.seen: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            m = self.consumer.poll(0.2)
            if m is not None and not m.error():
                with self.lock:
                    self.seen.append(m.value().decode())
        self.consumer.close()

    def distinct(self) -> set[str]:
        with self.lock:
            return set(self.seen)


def produce_through_failover(p: Producer, topic: str, acks: AckLog, first: int, kill) -> tuple[int, float]:
    """Produces until 300 records past `first`, calls `kill`, keeps producing until acks resume after it."""
    sent = first
    killed_at = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        p.produce(topic, value=f"m{sent:06d}", on_delivery=acks.on_delivery)
        sent += 1
        p.poll(0)
        time.sleep(0.002)
        if killed_at is None and sent == first + 300:
            kill()
            killed_at = time.monotonic()
        if killed_at and time.monotonic() - killed_at > 1 and acks.acked_after(killed_at + 0.2):
            return sent, time.monotonic() - killed_at
    raise AssertionError("acknowledgements did not resume within 60 s of the kill")


def test_two_leader_kills_lose_no_acknowledged_record_and_the_group_reads_through(zookeeper, broker_factory, topic_name):
    cluster = make_cluster(zookeeper, broker_factory, **{"offsets.topic.replication.factor": 3})
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "2"})
    bootstrap = ",".join(b.bootstrap for b in cluster)
    by_id = {b.node_id: b for b in cluster}

    reader = GroupReader(bootstrap, topic_name, f"{topic_name}-group")
    reader.start()
    acks = AckLog()
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 2,
                  "message.timeout.ms": 60000, "topic.metadata.refresh.interval.ms": 1000})

    first_leader = partition_meta(cluster, topic_name).leader
    sent, failover1 = produce_through_failover(p, topic_name, acks, 0, by_id[first_leader].kill9)

    by_id[first_leader].restart()
    wait_for(lambda: sorted(partition_meta(cluster, topic_name).isrs) == [0, 1, 2], 40, "restarted broker in the ISR")

    second_leader = partition_meta(cluster, topic_name).leader
    sent, failover2 = produce_through_failover(p, topic_name, acks, sent, by_id[second_leader].kill9)
    assert p.flush(60) == 0
    print(f"\nfailover after kill -9 of the leader: {failover1:.2f}s then {failover2:.2f}s "
          f"(session timeout {SESSION_MS} ms); {len(acks.values())} acknowledged of {sent} sent")

    assert acks.failed == [], acks.failed[:5]
    values = acks.values()
    survivors = [b for b in cluster if b.is_running()]
    got = read_all(survivors, topic_name, len(values), timeout=40)
    assert len(got) == len(set(got)), "no record twice"
    assert got == sorted(got), "in order"
    missing = set(values) - set(got)
    assert not missing, f"{len(missing)} acknowledged record(s) lost, e.g. {sorted(missing)[:5]}"

    # The group kept reading through both failovers: it ends up with every acknowledged record.
    wait_for(lambda: set(values) <= reader.distinct(), 60, "the consumer group to read every acknowledged record")
    reader.stopping.set()
    reader.join(15)

    # The two surviving replicas are identical, batch by batch.
    def log_bytes(b):
        return b"".join(f.read_bytes() for f in b.segment_files(topic_name, 0) if f.suffix == ".log")
    wait_for(lambda: len({log_bytes(b) for b in survivors}) == 1, 20, "identical logs on the surviving replicas")
