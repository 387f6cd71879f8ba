"""Issue 6, first slice: ZooKeeper + 3 `tern server` processes on loopback.

A topic with replication factor 3 and min.insync.replicas=2; an idempotent confluent-kafka producer with acks=all
writes while the test kills the partition leader with kill -9; a new leader is elected from the ISR and every
acknowledged record is readable, once and in order. Failover time and acks=all throughput are printed (pytest -s).
"""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from zk import zookeeper  # noqa: F401  (fixture)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SESSION_MS = 2000


def make_cluster(zookeeper, broker_factory, **extra):
    brokers = [broker_factory(overrides={
        "broker.id": i,
        "zookeeper.connect": f"{zookeeper.connect}/tern",
        "zookeeper.session.timeout.ms": SESSION_MS,
        "replica.lag.time.max.ms": 5000,
        # Teardown stops every broker; the last ones have nobody to hand leadership to.
        "controlled.shutdown.retry.backoff.ms": 200,
        **extra,
    }) for i in range(3)]
    wait_for(lambda: len(AdminClient({"bootstrap.servers": brokers[0].bootstrap}).list_topics(timeout=5).brokers) == 3,
             15, "all three brokers registered")
    return brokers


@pytest.fixture
def cluster(zookeeper, broker_factory):
    return make_cluster(zookeeper, broker_factory)


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except KafkaException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def bootstrap(brokers):
    return ",".join(b.bootstrap for b in brokers if b.is_running())


def partition_meta(brokers, topic, p=0):
    md = AdminClient({"bootstrap.servers": bootstrap(brokers)}).list_topics(topic, timeout=5)
    return md.topics[topic].partitions[p]


def create_topic(brokers, topic, partitions=1, rf=3, configs=None):
    admin = AdminClient({"bootstrap.servers": bootstrap(brokers)})
    for f in admin.create_topics([NewTopic(topic, partitions, rf, config=configs or {})]).values():
        f.result(15)
    wait_for(lambda: all(partition_meta(brokers, topic, p).leader >= 0 for p in range(partitions)), 15, "leaders")


def read_all(brokers, topic, expected, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap(brokers), "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        out.append(m.value().decode())
    c.close()
    return out


def test_metadata_lists_every_broker_and_the_isr(cluster, topic_name):
    create_topic(cluster, topic_name, partitions=3)
    md = AdminClient({"bootstrap.servers": cluster[1].bootstrap}).list_topics(topic_name, timeout=5)
    assert sorted(md.brokers) == [0, 1, 2]
    assert md.controller_id in (0, 1, 2)
    leaders = set()
    for p in md.topics[topic_name].partitions.values():
        assert sorted(p.replicas) == [0, 1, 2]
        assert sorted(p.isrs) == [0, 1, 2]
        leaders.add(p.leader)
    assert len(leaders) == 3, "round-robin assignment spreads the leaders"

    # DescribeCluster (what kafka-python's and Java's admin clients ask) lists every broker and the controller too.
    from kafka.protocol.admin import DescribeClusterRequest, DescribeClusterResponse
    import rawkafka as rk
    with rk.RawConnection.to(cluster[2].bootstrap) as conn:
        r = rk.kp_request(conn, DescribeClusterRequest, DescribeClusterResponse, 0, include_cluster_authorized_operations=False)
    assert r.error_code == 0
    assert sorted(b.broker_id for b in r.brokers) == [0, 1, 2]
    assert {b.broker_id: b.port for b in r.brokers} == {b.node_id: b.port for b in cluster}
    assert r.controller_id == md.controller_id


def test_acks_all_replicates_to_every_replica(cluster, topic_name):
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "2"})
    p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    for i in range(200):
        p.produce(topic_name, value=f"v{i}")
    assert p.flush(30) == 0
    # Every replica's log holds the same bytes once the followers have fetched.
    def same_logs():
        sizes = {sum(f.stat().st_size for f in b.segment_files(topic_name, 0) if f.suffix == ".log") for b in cluster}
        return len(sizes) == 1 and sizes != {0}
    wait_for(same_logs, 10, "identical replica logs")
    assert read_all(cluster, topic_name, 200) == [f"v{i}" for i in range(200)]


def test_leader_kill9_failover_keeps_acknowledged_records(cluster, topic_name):
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "2"})
    leader_id = partition_meta(cluster, topic_name).leader
    leader = next(b for b in cluster if b.node_id == leader_id)

    acked: list[tuple[float, str]] = []
    failed: list[str] = []
    lock = threading.Lock()

    def on_delivery(err, msg):
        with lock:
            if err is None:
                acked.append((time.monotonic(), msg.value().decode()))
            else:
                failed.append(f"{msg.value().decode()}: {err}")

    p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all", "enable.idempotence": True,
                  "linger.ms": 2, "message.timeout.ms": 30000, "topic.metadata.refresh.interval.ms": 1000})
    sent = 0
    kill_at = None
    start = time.monotonic()
    while time.monotonic() - start < 20:
        p.produce(topic_name, value=f"m{sent:06d}", on_delivery=on_delivery)
        sent += 1
        p.poll(0)
        time.sleep(0.002)
        if kill_at is None and sent == 1000:
            leader.kill9()
            kill_at = time.monotonic()
        if kill_at and time.monotonic() - kill_at > 3:
            with lock:
                if any(t > kill_at + 0.5 for t, _ in acked[-5:]):
                    break
    assert p.flush(40) == 0
    assert kill_at is not None

    new_leader = partition_meta(cluster, topic_name).leader
    assert new_leader not in (-1, leader_id)
    with lock:
        values = [v for _, v in acked]
        times = [t for t, _ in acked]
    assert failed == [], failed[:5]
    # Failover time: the longest pause in acknowledgements after the kill.
    after = [t for t in times if t >= kill_at]
    gaps = [b - a for a, b in zip([kill_at] + after, after)]
    print(f"\nfailover: {len(values)} acked of {sent} sent; leader {leader_id} -> {new_leader}; "
          f"longest ack pause after kill -9 {max(gaps):.2f}s (session timeout {SESSION_MS} ms)")

    survivors = [b for b in cluster if b.is_running()]
    got = read_all(survivors, topic_name, len(values))
    assert len(got) == len(set(got)), "no record twice"
    assert sorted(got) == got, "in order"
    missing = set(values) - set(got)
    assert not missing, f"{len(missing)} acknowledged record(s) lost, e.g. {sorted(missing)[:5]}"

    # The old leader comes back as a follower: it cuts what the new leader does not have (OffsetForLeaderEpoch),
    # catches up, re-enters the ISR, and all three logs end up byte-identical.
    restarted_at = time.monotonic()
    leader.restart()
    wait_for(lambda: sorted(partition_meta(cluster, topic_name).isrs) == [0, 1, 2], 30, "old leader back in the ISR")
    print(f"old leader back in the ISR {time.monotonic() - restarted_at:.2f}s after its restart")

    def log_bytes(b):
        return b"".join(f.read_bytes() for f in b.segment_files(topic_name, 0))
    wait_for(lambda: len({log_bytes(b) for b in cluster}) == 1, 15, "identical logs on all three replicas")


def test_two_of_three_down_acks_all_is_refused(cluster, topic_name):
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "2"})
    leader_id = partition_meta(cluster, topic_name).leader
    for b in cluster:
        if b.node_id != leader_id:
            b.kill9()
    leader = next(b for b in cluster if b.node_id == leader_id)
    # The leader drops the dead followers from the ISR (replica.lag.time.max.ms) or the controller does (session).
    wait_for(lambda: partition_meta([leader], topic_name).isrs == [leader_id], 20, "ISR shrunk to the leader")
    errors = []
    p = Producer({"bootstrap.servers": leader.bootstrap, "acks": "all", "message.timeout.ms": 5000, "retries": 0})
    p.produce(topic_name, value=b"x", on_delivery=lambda err, msg: errors.append(err))
    p.flush(10)
    assert errors and errors[0] is not None and errors[0].name() == "NOT_ENOUGH_REPLICAS", errors


def _throughput(bootstrap_servers, topic, acks, n=200000, size=100):
    errors = []
    p = Producer({"bootstrap.servers": bootstrap_servers, "acks": acks, "linger.ms": 5, "enable.idempotence": acks == "all",
                  "on_delivery": lambda err, msg: err and errors.append(err)})
    payload = b"x" * size
    p.produce(topic, value=payload)
    assert p.flush(30) == 0  # metadata and connections before the clock starts
    start = time.monotonic()
    for _ in range(n):
        while True:
            try:
                p.produce(topic, value=payload)
                break
            except BufferError:
                p.poll(0.01)
    assert p.flush(60) == 0
    elapsed = time.monotonic() - start
    assert errors == [], errors[:3]
    return n / elapsed


def test_throughput_acks_all_on_three_next_to_acks_1_on_one(cluster, broker_factory, topic_name):
    """Not an assertion of speed: prints both figures from one run (pytest -s)."""
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "2"})
    replicated = _throughput(bootstrap(cluster), topic_name, "all")
    single = broker_factory()
    admin = AdminClient({"bootstrap.servers": single.bootstrap})
    admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(15)
    alone = _throughput(single.bootstrap, topic_name, "1")
    print(f"\nthroughput, 100-byte records, 1 partition: acks=all RF=3 on 3 brokers {replicated:,.0f} rec/s; "
          f"acks=1 on one broker {alone:,.0f} rec/s")
    assert replicated > 0 and alone > 0


def test_session_expiry_re_registers_and_rejoins(cluster, topic_name):
    """A broker frozen past its session timeout loses its session (and registration); on waking it opens a new
    session, registers again, and its replica returns to the ISR."""
    import os
    import signal
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "2"})
    leader_id = partition_meta(cluster, topic_name).leader
    frozen = next(b for b in cluster if b.node_id != leader_id)
    others = [b for b in cluster if b is not frozen]
    os.kill(frozen.proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: len(AdminClient({"bootstrap.servers": bootstrap(others)}).list_topics(timeout=5).brokers) == 2,
                 15, "the frozen broker's registration expired")
        wait_for(lambda: frozen.node_id not in partition_meta(others, topic_name).isrs, 15, "ISR without the frozen broker")
    finally:
        os.kill(frozen.proc.pid, signal.SIGCONT)
    wait_for(lambda: len(AdminClient({"bootstrap.servers": bootstrap(others)}).list_topics(timeout=5).brokers) == 3,
             20, "re-registration after the new session")
    p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all"})
    p.produce(topic_name, value=b"after")
    assert p.flush(15) == 0
    wait_for(lambda: sorted(partition_meta(cluster, topic_name).isrs) == [0, 1, 2], 30, "back in the ISR")


def test_controller_kill9_new_controller_still_elects_leaders(cluster, topic_name):
    create_topic(cluster, topic_name, partitions=3)
    md = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=5)
    old = md.controller_id
    next(b for b in cluster if b.node_id == old).kill9()
    survivors = [b for b in cluster if b.is_running()]

    def new_controller():
        c = AdminClient({"bootstrap.servers": bootstrap(survivors)}).list_topics(timeout=5).controller_id
        return c not in (-1, old)
    wait_for(new_controller, 15, "a new controller")
    # Every partition the dead broker led has a live leader again, chosen by the new controller.
    wait_for(lambda: all(partition_meta(survivors, topic_name, p).leader not in (-1, old) for p in range(3)), 15,
             "leaders moved off the dead controller")
    p = Producer({"bootstrap.servers": bootstrap(survivors), "acks": "all"})
    for i in range(3):
        p.produce(topic_name, value=b"x", partition=i)
    assert p.flush(15) == 0


def test_zookeeper_restart_keeps_topics(zookeeper, cluster, topic_name):
    create_topic(cluster, topic_name, partitions=2)
    zookeeper.stop()
    time.sleep(1)
    zookeeper.start()
    wait_for(lambda: len(AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=5).brokers) == 3,
             30, "all brokers registered after the ZooKeeper restart")
    wait_for(lambda: all(partition_meta(cluster, topic_name, p).leader >= 0 for p in range(2)), 15, "leaders")
    p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all"})
    p.produce(topic_name, value=b"x")
    assert p.flush(15) == 0


def test_create_partitions_spreads_and_elects_new_partitions(cluster, topic_name):
    from confluent_kafka.admin import NewPartitions
    create_topic(cluster, topic_name, partitions=1)
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    admin.create_partitions([NewPartitions(topic_name, 3)])[topic_name].result(15)
    wait_for(lambda: all(partition_meta(cluster, topic_name, p).leader >= 0 for p in range(3)), 15, "new leaders")
    for p in range(3):
        meta = partition_meta(cluster, topic_name, p)
        assert sorted(meta.replicas) == [0, 1, 2] and sorted(meta.isrs) == [0, 1, 2]
    prod = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all"})
    for p in range(3):
        prod.produce(topic_name, value=b"x", partition=p)
    assert prod.flush(15) == 0
