"""Issue 6: the group and transaction coordinators follow the leadership of their internal partitions.

ZooKeeper + 3 brokers; `__consumer_offsets` and `__transaction_state` with 5 partitions each and replication
factor 3. The coordinator of a key is the leader of partition abs(javaHash(key)) % 5 of its internal topic; killing
that broker with kill -9 moves the leadership, the new leader loads the partition and clients find it there.
Figures are printed (pytest -s).
"""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kafka.protocol.admin import AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse
from kafka.protocol.consumer.group import HeartbeatRequest, HeartbeatResponse
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest, FindCoordinatorResponse

import rawkafka as rk
from test_cluster import SESSION_MS, bootstrap, create_topic, make_cluster, wait_for
from zk import zookeeper  # noqa: F401  (fixture)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

INTERNAL_PARTITIONS = 5
COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, UNKNOWN_MEMBER_ID = 15, 16, 25
TRANSACTION_COORDINATOR_FENCED = 52
WRITE_TXN_MARKERS = 27


@pytest.fixture
def cluster(zookeeper, broker_factory):
    return make_cluster(zookeeper, broker_factory, **{
        "offsets.topic.num.partitions": INTERNAL_PARTITIONS,
        "transaction.state.log.num.partitions": INTERNAL_PARTITIONS,
        "group.initial.rebalance.delay.ms": 0,
        # Kafka's defaults (the harness lowers them for single brokers).
        "offsets.topic.replication.factor": 3,
        "transaction.state.log.replication.factor": 3,
        "transaction.state.log.min.isr": 2,
    })


def java_hash(s: str) -> int:
    """java.lang.String.hashCode over UTF-16 code units, as an unsigned 32-bit value."""
    data = s.encode("utf-16-be")
    h = 0
    for i in range(0, len(data), 2):
        h = (h * 31 + int.from_bytes(data[i:i + 2], "big")) & 0xFFFFFFFF
    return h


def internal_partition(key: str) -> int:
    return (java_hash(key) & 0x7FFFFFFF) % INTERNAL_PARTITIONS


def internal_leader(brokers, topic: str, key: str) -> int:
    md = AdminClient({"bootstrap.servers": bootstrap(brokers)}).list_topics(topic, timeout=5)
    return md.topics[topic].partitions[internal_partition(key)].leader


def group_coordinator(brokers, group: str) -> int:
    """The group's coordinator as DescribeGroups reports it; -1 while none answers (e.g. it was just killed)."""
    admin = AdminClient({"bootstrap.servers": bootstrap(brokers)})
    try:
        return admin.describe_consumer_groups([group], request_timeout=5)[group].result(10).coordinator.id
    except (KafkaException, TimeoutError):
        return -1


def test_find_coordinator_names_the_leader_of_the_groups_partition(cluster):
    """Every broker answers FindCoordinator with the leader of the group's __consumer_offsets partition, and the
    topic was created with offsets.topic.replication.factor=3 and Kafka's configs."""
    groups = [f"g-{i}" for i in range(12)]
    coordinators = {}
    for g in groups:
        wait_for(lambda: group_coordinator(cluster, g) >= 0, 20, f"a coordinator for {g}")
        coordinators[g] = group_coordinator(cluster, g)
    md = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics("__consumer_offsets", timeout=5)
    parts = md.topics["__consumer_offsets"].partitions
    assert len(parts) == INTERNAL_PARTITIONS
    assert all(sorted(p.replicas) == [0, 1, 2] for p in parts.values())
    for g in groups:
        assert coordinators[g] == parts[internal_partition(g)].leader, g
    assert len(set(coordinators.values())) > 1, "groups spread over several coordinators"
    # Asking each broker directly gives the same answer (not "myself").
    for b in cluster:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        for g in groups[:4]:
            assert admin.describe_consumer_groups([g])[g].result(10).coordinator.id == coordinators[g]


def test_offsets_topic_waits_for_enough_brokers(zookeeper, broker_factory):
    """As Kafka: __consumer_offsets is created with exactly offsets.topic.replication.factor replicas, so with
    fewer live brokers FindCoordinator answers COORDINATOR_NOT_AVAILABLE and no topic appears."""
    b = broker_factory(overrides={"broker.id": 0, "zookeeper.connect": f"{zookeeper.connect}/tern",
                                  "zookeeper.session.timeout.ms": SESSION_MS, "offsets.topic.num.partitions": 2,
                                  "offsets.topic.replication.factor": 3})
    with rk.RawConnection.to(b.bootstrap) as conn:
        for _ in range(3):
            r = rk.kp_request(conn, FindCoordinatorRequest, FindCoordinatorResponse, 4, key_type=0, coordinator_keys=["g"])
            assert (r.coordinators[0].error_code, r.coordinators[0].node_id) == (COORDINATOR_NOT_AVAILABLE, -1)
            time.sleep(0.2)
    assert "__consumer_offsets" not in AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=5).topics
    assert "cannot create __consumer_offsets" in b.log_text()


def test_group_requests_to_other_brokers_answer_not_coordinator(cluster):
    """Any broker but the leader of the group's partition answers the group's requests with NOT_COORDINATOR."""
    group = "not-here"
    wait_for(lambda: group_coordinator(cluster, group) >= 0, 20, "the group's coordinator")
    coordinator = group_coordinator(cluster, group)
    for b in cluster:
        with rk.RawConnection.to(b.bootstrap) as conn:
            code = rk.kp_request(conn, HeartbeatRequest, HeartbeatResponse, 3, group_id=group, generation_id=1,
                                 member_id="m", group_instance_id=None).error_code
        assert code == (UNKNOWN_MEMBER_ID if b.node_id == coordinator else NOT_COORDINATOR), (b.node_id, coordinator)


def heartbeat_code(broker, group):
    with rk.RawConnection.to(broker.bootstrap) as conn:
        return rk.kp_request(conn, HeartbeatRequest, HeartbeatResponse, 3, group_id=group, generation_id=1,
                             member_id="m", group_instance_id=None).error_code


def test_offsets_partition_moved_away_is_unloaded_from_its_old_leader(cluster):
    """A reassignment that removes the leader of a group's `__consumer_offsets` partition: the old leader gets no
    LeaderAndIsr, only StopReplica (with delete), which must unload the partition from its group coordinator
    (Kafka's onResignation), so it answers NOT_COORDINATOR instead of serving a partition it no longer has."""
    group = "moved-away"
    wait_for(lambda: group_coordinator(cluster, group) >= 0, 20, "the group's coordinator")
    old = group_coordinator(cluster, group)
    assert heartbeat_code(next(b for b in cluster if b.node_id == old), group) == UNKNOWN_MEMBER_ID
    partition = internal_partition(group)
    target = sorted(b.node_id for b in cluster if b.node_id != old)
    controller = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=5).controller_id
    with rk.RawConnection.to(next(b for b in cluster if b.node_id == controller).bootstrap) as conn:
        r = rk.kp_request(conn, AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, 0,
                          timeout_ms=5000, topics=[{"name": "__consumer_offsets",
                                                    "partitions": [{"partition_index": partition, "replicas": target}]}])
    assert r.error_code == 0 and [p.error_code for t in r.responses for p in t.partitions] == [0]
    wait_for(lambda: group_coordinator(cluster, group) in target, 30, "the group's new coordinator")
    old_broker = next(b for b in cluster if b.node_id == old)
    wait_for(lambda: heartbeat_code(old_broker, group) == NOT_COORDINATOR, 15, "the old leader unloaded the partition")
    assert f"group coordinator: unloaded __consumer_offsets-{partition}" in old_broker.log_text()
    new = next(b for b in cluster if b.node_id == group_coordinator(cluster, group))
    assert heartbeat_code(new, group) == UNKNOWN_MEMBER_ID


def write_txn_marker_v0(broker, producer_id, coordinator_epoch, topic, partition=0, commit=True):
    """One WriteTxnMarkers v0 (hand-encoded); the partition's error code."""
    w = rk.Writer().int32(1).int64(producer_id).int16(0).boolean(commit)
    w.int32(1).string(topic).int32(1).int32(partition).int32(coordinator_epoch)
    with rk.RawConnection.to(broker.bootstrap) as conn:
        conn.send_request(WRITE_TXN_MARKERS, 0, w.bytes())
        _, payload = conn.recv_response(header_version=0)
    r = rk.Reader(payload)
    assert r.int32() == 1 and r.int64() == producer_id and r.int32() == 1 and r.string() == topic
    assert r.int32() == 1 and r.int32() == partition
    return r.int16()


def test_marker_from_an_older_coordinator_epoch_is_fenced(cluster, topic_name):
    """A partition leader remembers per producer the coordinator epoch of its last marker: a marker from an older
    coordinator (one that lost its `__transaction_state` partition) is TRANSACTION_COORDINATOR_FENCED."""
    create_topic(cluster, topic_name)
    leader_id = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(topic_name, timeout=5) \
        .topics[topic_name].partitions[0].leader
    leader = next(b for b in cluster if b.node_id == leader_id)
    pid = 987654
    assert write_txn_marker_v0(leader, pid, 7, topic_name) == 0
    assert write_txn_marker_v0(leader, pid, 6, topic_name, commit=False) == TRANSACTION_COORDINATOR_FENCED
    assert write_txn_marker_v0(leader, pid, 7, topic_name) == 0, "the same coordinator epoch writes"
    assert write_txn_marker_v0(leader, pid + 1, 1, topic_name) == 0, "per producer"


def test_group_keeps_consuming_when_its_coordinator_is_killed(cluster, topic_name):
    """(a) Two confluent-kafka members consume a RF=3 topic while the group coordinator is killed with kill -9:
    the group finds the new coordinator, committed offsets survive, every record produced is consumed (at least
    once) and commits continue."""
    group = f"{topic_name}-g"
    create_topic(cluster, topic_name, partitions=3, configs={"min.insync.replicas": "2"})
    wait_for(lambda: group_coordinator(cluster, group) >= 0, 20, "the group's coordinator")

    stop = threading.Event()
    lock = threading.Lock()
    acked: set[str] = set()
    consumed: list[tuple[float, str]] = []
    commits: list[tuple[float, object]] = []

    def produce():
        p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all", "enable.idempotence": True,
                      "linger.ms": 5, "message.timeout.ms": 60000, "topic.metadata.refresh.interval.ms": 1000})

        def on_delivery(err, msg):
            if err is None:
                with lock:
                    acked.add(msg.value().decode())
        i = 0
        while not stop.is_set():
            p.produce(topic_name, key=str(i % 7), value=f"r{i:06d}", on_delivery=on_delivery)
            i += 1
            p.poll(0.003)
        assert p.flush(60) == 0

    def consume(member: int):
        def on_commit(err, _partitions):
            with lock:
                commits.append((time.monotonic(), err))
        c = Consumer({"bootstrap.servers": bootstrap(cluster), "group.id": group, "auto.offset.reset": "earliest",
                      "enable.auto.commit": True, "auto.commit.interval.ms": 300, "session.timeout.ms": 6000,
                      "heartbeat.interval.ms": 500, "topic.metadata.refresh.interval.ms": 1000,
                      "on_commit": on_commit, "client.id": f"member-{member}"})
        c.subscribe([topic_name])
        while not stop.is_set() or time.monotonic() < drain_until[0]:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            with lock:
                consumed.append((time.monotonic(), m.value().decode()))
        c.close()

    drain_until = [float("inf")]
    threads = [threading.Thread(target=produce)] + [threading.Thread(target=consume, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(consumed) > 300 and any(err is None for _, err in commits), 30, "the group consuming")
        old = group_coordinator(cluster, group)
        victim = next(b for b in cluster if b.node_id == old)
        before = committed_offsets(cluster, group, topic_name)
        assert sum(o for o in before.values() if o > 0) > 0
        victim.kill9()
        killed_at = time.monotonic()
        survivors = [b for b in cluster if b.is_running()]
        wait_for(lambda: group_coordinator(survivors, group) not in (-1, old), 30, "a new coordinator")
        found_after = time.monotonic() - killed_at
        new = group_coordinator(survivors, group)
        # Committed offsets survived the move and keep advancing.
        after = committed_offsets(survivors, group, topic_name)
        assert all(after[p] >= before[p] for p in before), (before, after)
        wait_for(lambda: any(t > killed_at and err is None for t, err in commits), 40, "a commit after the kill")
        first_commit = min(t for t, err in commits if t > killed_at and err is None) - killed_at
        wait_for(lambda: len([1 for t, _ in consumed if t > killed_at + first_commit]) > 200, 30, "consuming after the move")
        stop.set()
        threads[0].join(90)
        drain_until[0] = time.monotonic() + 20
        wait_for(lambda: acked <= {v for _, v in consumed}, 25, "every acknowledged record consumed")
    finally:
        stop.set()
        drain_until[0] = 0
        for t in threads:
            t.join(90)
    got = {v for _, v in consumed}
    missing = acked - got
    assert not missing, f"{len(missing)} acknowledged record(s) never consumed, e.g. {sorted(missing)[:5]}"
    final = committed_offsets(survivors, group, topic_name)
    assert all(final[p] >= after[p] for p in after) and sum(final.values()) > sum(after.values())
    gaps = sorted(t for t, _ in consumed if t > killed_at)
    resumed = (gaps[0] - killed_at) if gaps else float("nan")
    print(f"\ngroup coordinator {old} killed -> {new}: new coordinator found after {found_after:.2f}s, first record "
          f"consumed after {resumed:.2f}s, first successful commit after {first_commit:.2f}s "
          f"(session timeout {SESSION_MS} ms); {len(acked)} records acked, {len(consumed)} consumed "
          f"({len(consumed) - len(got)} redelivered)")


def committed_offsets(brokers, group, topic, partitions=3):
    c = Consumer({"bootstrap.servers": bootstrap(brokers), "group.id": group, "enable.auto.commit": False})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=5)
                return {tp.partition: tp.offset for tp in tps}
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        c.close()


def test_kafka_python_resumes_from_committed_offset_after_coordinator_moves(cluster, topic_name):
    """(b) kafka-python commits, the coordinator broker is killed, and a new member of the group starts exactly
    at the committed offset, served by the new coordinator."""
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP

    group = f"{topic_name}-kp"
    create_topic(cluster, topic_name, partitions=1, configs={"min.insync.replicas": "2"})
    p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all"})
    for i in range(100):
        p.produce(topic_name, value=f"v{i:03d}")
    assert p.flush(30) == 0

    c = KafkaConsumer(topic_name, bootstrap_servers=bootstrap(cluster), group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=10000)
    seen = []
    for m in c:
        seen.append(m.value.decode())
        if len(seen) == 40:
            break
    c.commit()
    tp = KTP(topic_name, 0)
    assert c.committed(tp) == 40
    c.close()

    old = group_coordinator(cluster, group)
    victim = next(b for b in cluster if b.node_id == old)
    victim.kill9()
    survivors = [b for b in cluster if b.is_running()]
    wait_for(lambda: group_coordinator(survivors, group) not in (-1, old), 30, "a new coordinator")
    new = group_coordinator(survivors, group)

    c2 = KafkaConsumer(topic_name, bootstrap_servers=bootstrap(survivors), group_id=group,
                       auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=15000)
    rest = []
    for m in c2:
        rest.append(m.value.decode())
        if len(rest) == 60:
            break
    assert rest[0] == "v040", rest[:3]
    assert seen + rest == [f"v{i:03d}" for i in range(100)]
    c2.commit()
    assert c2.committed(tp) == 100
    c2.close()

    # The old coordinator comes back as a follower of the group's partition: it is not the coordinator any more.
    victim.restart()
    wait_for(lambda: len(AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=5).brokers) == 3,
             20, "the old coordinator registered again")
    assert group_coordinator([victim], group) == new
    with rk.RawConnection.to(victim.bootstrap) as conn:
        assert rk.kp_request(conn, HeartbeatRequest, HeartbeatResponse, 3, group_id=group, generation_id=1,
                             member_id="m", group_instance_id=None).error_code == NOT_COORDINATOR


def test_transaction_commits_after_its_coordinator_is_killed(cluster, topic_name):
    """(c) A confluent-kafka transactional producer commits a transaction whose coordinator was killed with
    kill -9 in the middle of it: the producer finds the new coordinator (the Ongoing transaction, replicated in
    __transaction_state, was loaded there) and the commit succeeds; read_committed readers see exactly the
    committed transactions."""
    txn_id = f"{topic_name}-txn"
    p = Producer({"bootstrap.servers": bootstrap(cluster), "transactional.id": txn_id, "acks": "all",
                  "transaction.timeout.ms": 60000, "topic.metadata.refresh.interval.ms": 1000})
    p.init_transactions(30)
    coordinator = internal_leader(cluster, "__transaction_state", txn_id)
    assert coordinator >= 0
    # The data partition's leader is another broker, so only the coordinator moves.
    others = [b.node_id for b in cluster if b.node_id != coordinator]
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    admin.create_topics([NewTopic(topic_name, 1, replica_assignment=[[others[0], others[1], coordinator]],
                                  config={"min.insync.replicas": "2"})])[topic_name].result(15)
    wait_for(lambda: admin.list_topics(topic_name, timeout=5).topics[topic_name].partitions[0].leader == others[0],
             15, "the data partition's leader")

    p.begin_transaction()
    for i in range(50):
        p.produce(topic_name, value=f"t1-{i}")
    p.commit_transaction(30)

    p.begin_transaction()
    for i in range(50):
        p.produce(topic_name, value=f"t2-{i}")
    p.flush(30)
    victim = next(b for b in cluster if b.node_id == coordinator)
    victim.kill9()
    killed_at = time.monotonic()
    p.commit_transaction(60)
    committed_after = time.monotonic() - killed_at
    survivors = [b for b in cluster if b.is_running()]
    new = internal_leader(survivors, "__transaction_state", txn_id)
    assert new not in (-1, coordinator)

    p.begin_transaction()
    for i in range(20):
        p.produce(topic_name, value=f"t3-{i}")
    p.flush(30)  # written, then aborted (abort_transaction alone would purge what is still queued)
    p.abort_transaction(30)
    p.begin_transaction()
    p.produce(topic_name, value="t4-0")
    p.commit_transaction(30)

    expected = [f"t1-{i}" for i in range(50)] + [f"t2-{i}" for i in range(50)] + ["t4-0"]
    assert read(survivors, topic_name, "read_committed", len(expected)) == expected
    uncommitted = read(survivors, topic_name, "read_uncommitted", len(expected) + 20)
    assert [v for v in uncommitted if v.startswith("t3-")] == [f"t3-{i}" for i in range(20)]
    print(f"\ntransaction coordinator {coordinator} killed -> {new}: commit_transaction returned "
          f"{committed_after:.2f}s after the kill")


def read(brokers, topic, isolation, expected, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap(brokers), "group.id": "unused", "enable.auto.commit": False,
                  "isolation.level": isolation, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF and len(out) >= expected:
                break
            continue
        out.append(m.value().decode())
    c.close()
    return out


def test_transactional_offsets_survive_a_group_coordinator_kill(cluster, topic_name):
    """Consume-transform-produce with confluent-kafka: the offsets sent to a transaction are staged on the group's
    coordinator, which is killed with kill -9 before the commit. The new coordinator loads them as pending, the
    COMMIT marker (written by the transaction coordinator to the partition's new leader) makes them the group's
    committed offsets, and read_committed readers see exactly the transformed records."""
    group = f"{topic_name}-eos"
    wait_for(lambda: group_coordinator(cluster, group) >= 0, 20, "the group's coordinator")
    coordinator = group_coordinator(cluster, group)
    others = [b.node_id for b in cluster if b.node_id != coordinator]
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    source, sink = f"{topic_name}-in", f"{topic_name}-out"
    for t in (source, sink):
        admin.create_topics([NewTopic(t, 1, replica_assignment=[[others[0], others[1], coordinator]])])[t].result(15)
        wait_for(lambda: admin.list_topics(t, timeout=5).topics[t].partitions[0].leader == others[0], 15, f"{t} leader")
    p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all"})
    for i in range(30):
        p.produce(source, value=f"s{i:02d}")
    assert p.flush(30) == 0

    c = Consumer({"bootstrap.servers": bootstrap(cluster), "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                  "topic.metadata.refresh.interval.ms": 1000})
    c.subscribe([source])
    tx = Producer({"bootstrap.servers": bootstrap(cluster), "transactional.id": f"{topic_name}-tx",
                   "topic.metadata.refresh.interval.ms": 1000})
    tx.init_transactions(30)

    def transform(n, kill=None):
        tx.begin_transaction()
        done = 0
        deadline = time.monotonic() + 30
        while done < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            tx.produce(sink, value=m.value().decode().replace("s", "o"))
            done += 1
        assert done == n
        tx.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        if kill:
            kill()
        tx.commit_transaction(60)

    transform(10)
    victim = next(b for b in cluster if b.node_id == coordinator)
    transform(10, kill=victim.kill9)
    survivors = [b for b in cluster if b.is_running()]
    assert group_coordinator(survivors, group) not in (-1, coordinator)
    assert committed_offsets(survivors, group, source, partitions=1) == {0: 20}
    c.close()
    assert read(survivors, sink, "read_committed", 20) == [f"o{i:02d}" for i in range(20)]


def test_producer_ids_are_unique_across_brokers(cluster):
    """Every broker hands out producer ids (idempotent producers ask any broker), so, as Kafka's
    ZkProducerIdManager, each claims its blocks in /latest_producer_id_block: ids never repeat across brokers."""
    from kafka.protocol.producer.transaction import InitProducerIdRequest, InitProducerIdResponse
    ids = []
    for b in cluster:
        with rk.RawConnection.to(b.bootstrap) as conn:
            for _ in range(3):
                r = rk.kp_request(conn, InitProducerIdRequest, InitProducerIdResponse, 2, transactional_id=None,
                                  transaction_timeout_ms=60000)
                assert r.error_code == 0
                ids.append(r.producer_id)
    assert len(set(ids)) == len(ids), ids
    blocks = sorted({i // 1000 for i in ids})
    assert len(blocks) == 3, f"one block of 1000 per broker: {ids}"
