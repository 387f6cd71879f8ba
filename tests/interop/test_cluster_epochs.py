"""Issue 6: leader-epoch fencing (KIP-320), the current leader on errors (KIP-951), fetch from follower
(KIP-392) and a broker cluster riding out the loss of ZooKeeper nodes in a 3-node ensemble.

Raw requests (kafka-python's schema classes over a socket) check the exact error codes: a stale
current_leader_epoch answers FENCED_LEADER_EPOCH (74), a future one UNKNOWN_LEADER_EPOCH (75), -1 skips the check,
and a broker that is not the leader answers NOT_LEADER_OR_FOLLOWER (6) with the leader's id, epoch and endpoint.
A confluent-kafka consumer with client.rack is sent by the leader to the in-sync follower of its rack and reads
every record there; librdkafka's statistics show which broker served its fetches. DeleteRecords on the leader
waits until the followers have moved their log start too. A 3-node ZooKeeper ensemble loses the node brokers are
connected to, then its leader: sessions move to the survivors, nothing expires, produce and topic changes go on.
Figures are printed with pytest -s.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from kafka.protocol.admin import DeleteRecordsRequest, DeleteRecordsResponse
from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse
from kafka.protocol.consumer.offsets import (ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest,
                                             OffsetForLeaderEpochResponse)
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder

import rawkafka as rk
from test_cluster import bootstrap, create_topic, partition_meta, wait_for
from zk import zookeeper, zookeeper_ensemble  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NOT_LEADER_OR_FOLLOWER = 6
OFFSET_OUT_OF_RANGE = 1
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75  # (Kafka's Errors: 75; 76 is UNSUPPORTED_COMPRESSION_TYPE)
SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector"


def start_cluster(connect, broker_factory, session_ms=2000, racks=None, **extra):
    brokers = [broker_factory(overrides={
        "broker.id": i,
        "zookeeper.connect": connect,
        "zookeeper.session.timeout.ms": session_ms,
        "replica.lag.time.max.ms": 5000,
        "controlled.shutdown.retry.backoff.ms": 200,
        **({"broker.rack": racks[i]} if racks else {}),
        **extra,
    }) for i in range(3)]
    wait_for(lambda: len(AdminClient({"bootstrap.servers": brokers[0].bootstrap}).list_topics(timeout=5).brokers) == 3,
             15, "all three brokers registered")
    return brokers


def by_id(brokers, node_id):
    return next(b for b in brokers if b.node_id == node_id)


def raw_metadata(broker, topic):
    """(topic id, partition 0's leader, leader epoch, isr) as Metadata v12 reports them."""
    with rk.RawConnection.to(broker.bootstrap) as conn:
        r = rk.kp_request(conn, MetadataRequest, MetadataResponse, 12, topics=[{"topic_id": None, "name": topic}],
                          allow_auto_topic_creation=False, include_topic_authorized_operations=False)
    t = r.topics[0]
    p = next(p for p in t.partitions if p.partition_index == 0)
    return t.topic_id, p.leader_id, p.leader_epoch, list(p.isr_nodes)


def fetch(broker, version, topic, topic_id, epoch, offset=0, rack="", max_wait_ms=0):
    topic_entry = {"topic": topic, "topic_id": topic_id, "partitions": [{
        "partition": 0, "current_leader_epoch": epoch, "fetch_offset": offset, "last_fetched_epoch": -1,
        "log_start_offset": -1, "partition_max_bytes": 1 << 20}]}
    with rk.RawConnection.to(broker.bootstrap) as conn:
        r = rk.kp_request(conn, FetchRequest, FetchResponse, version, replica_id=-1, max_wait_ms=max_wait_ms,
                          min_bytes=1, max_bytes=1 << 20, isolation_level=0, session_id=0, session_epoch=-1,
                          topics=[topic_entry], forgotten_topics_data=[], rack_id=rack)
    return r, r.responses[0].partitions[0]


def record_count(data):
    if not data:
        return 0
    records = MemoryRecords(bytes(data))
    n = 0
    while (batch := records.next_batch()) is not None:
        n += sum(1 for _ in batch)
    return n


def list_offsets(broker, topic, epoch, version=7, timestamp=-1):
    with rk.RawConnection.to(broker.bootstrap) as conn:
        r = rk.kp_request(conn, ListOffsetsRequest, ListOffsetsResponse, version, replica_id=-1, isolation_level=0,
                          topics=[{"name": topic, "partitions": [
                              {"partition_index": 0, "current_leader_epoch": epoch, "timestamp": timestamp}]}])
    return r.topics[0].partitions[0]


def offset_for_leader_epoch(broker, topic, current_epoch, epoch):
    with rk.RawConnection.to(broker.bootstrap) as conn:
        r = rk.kp_request(conn, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, 3, replica_id=-1,
                          topics=[{"topic": topic, "partitions": [
                              {"partition": 0, "current_leader_epoch": current_epoch, "leader_epoch": epoch}]}])
    return r.topics[0].partitions[0]


def produce_acks_all(brokers, topic, n, prefix="v"):
    p = Producer({"bootstrap.servers": bootstrap(brokers), "acks": "all", "linger.ms": 5})
    for i in range(n):
        p.produce(topic, value=f"{prefix}{i}")
    assert p.flush(30) == 0


def wait_isr(brokers, topic, size=3):
    wait_for(lambda: len(partition_meta(brokers, topic).isrs) == size, 20, f"an ISR of {size}")


def test_stale_and_future_leader_epochs_are_fenced(zookeeper, broker_factory, topic_name):  # noqa: F811
    cluster = start_cluster(f"{zookeeper.connect}/tern", broker_factory)
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "2"})
    produce_acks_all(cluster, topic_name, 50)
    wait_isr(cluster, topic_name)
    _, first_leader, first_epoch, _ = raw_metadata(cluster[0], topic_name)
    # A controlled shutdown moves leadership: the epoch goes up, so the old one is stale.
    by_id(cluster, first_leader).stop()
    live = [b for b in cluster if b.is_running()]
    wait_for(lambda: raw_metadata(live[0], topic_name)[2] > first_epoch and raw_metadata(live[0], topic_name)[1] >= 0,
             20, "a new leader epoch")
    topic_id, leader_id, epoch, _ = raw_metadata(live[0], topic_name)
    assert leader_id != first_leader
    leader = by_id(cluster, leader_id)
    follower = next(b for b in live if b is not leader)
    # Every broker must have applied the new epoch before the exact codes can be asserted.
    wait_for(lambda: fetch(follower, 12, topic_name, None, epoch)[1].error_code == 0, 20, "the follower at the new epoch")

    for version in (9, 12):
        assert fetch(leader, version, topic_name, None, epoch - 1)[1].error_code == FENCED_LEADER_EPOCH
        assert fetch(leader, version, topic_name, None, epoch + 1)[1].error_code == UNKNOWN_LEADER_EPOCH
        for e in (epoch, -1):
            _, p = fetch(leader, version, topic_name, None, e)
            assert p.error_code == 0 and record_count(p.records) == 50
    # The follower knows the epoch too: it fences a stale client before anything else, as Kafka's replicas do.
    assert fetch(follower, 12, topic_name, None, epoch - 1)[1].error_code == FENCED_LEADER_EPOCH
    # Before v11 a consumer may only read from the leader.
    assert fetch(follower, 10, topic_name, None, epoch)[1].error_code == NOT_LEADER_OR_FOLLOWER

    # KIP-951 (v16+): the error names the leader and its epoch, and the response carries its endpoint.
    r, p = fetch(leader, 16, topic_name, topic_id, epoch - 1)
    assert p.error_code == FENCED_LEADER_EPOCH
    assert (p.current_leader.leader_id, p.current_leader.leader_epoch) == (leader_id, epoch)
    assert [(n.node_id, n.port) for n in r.node_endpoints] == [(leader_id, leader.port)]

    assert list_offsets(leader, topic_name, epoch - 1).error_code == FENCED_LEADER_EPOCH
    assert list_offsets(leader, topic_name, epoch + 1).error_code == UNKNOWN_LEADER_EPOCH
    ok = list_offsets(leader, topic_name, epoch)
    assert (ok.error_code, ok.offset, ok.leader_epoch) == (0, 50, epoch)
    assert list_offsets(leader, topic_name, -1).offset == 50
    assert list_offsets(follower, topic_name, epoch).error_code == NOT_LEADER_OR_FOLLOWER

    assert offset_for_leader_epoch(leader, topic_name, epoch - 1, epoch).error_code == FENCED_LEADER_EPOCH
    assert offset_for_leader_epoch(leader, topic_name, epoch + 1, epoch).error_code == UNKNOWN_LEADER_EPOCH
    end = offset_for_leader_epoch(leader, topic_name, epoch, first_epoch)
    assert (end.error_code, end.leader_epoch, end.end_offset) == (0, first_epoch, 50)
    assert offset_for_leader_epoch(follower, topic_name, epoch, epoch).error_code == NOT_LEADER_OR_FOLLOWER


def test_produce_to_a_follower_names_the_leader(zookeeper, broker_factory, topic_name):  # noqa: F811
    cluster = start_cluster(f"{zookeeper.connect}/tern", broker_factory)
    create_topic(cluster, topic_name)
    _, leader_id, epoch, _ = raw_metadata(cluster[0], topic_name)
    leader = by_id(cluster, leader_id)
    follower = next(b for b in cluster if b is not leader)
    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
    builder.append(timestamp=None, key=None, value=b"to-a-follower", headers=[])
    builder.close()
    with rk.RawConnection.to(follower.bootstrap) as conn:
        r = rk.kp_request(conn, ProduceRequest, ProduceResponse, 10, transactional_id=None, acks=-1, timeout_ms=5000,
                          topic_data=[{"name": topic_name, "partition_data": [
                              {"index": 0, "records": builder.buffer()}]}])
    p = r.responses[0].partition_responses[0]
    assert p.error_code == NOT_LEADER_OR_FOLLOWER
    assert (p.current_leader.leader_id, p.current_leader.leader_epoch) == (leader_id, epoch)
    assert [(n.node_id, n.host, n.port) for n in r.node_endpoints] == [(leader_id, "127.0.0.1", leader.port)]

    # A broker without a replica may not serve even a v11+ consumer; from v16 it names the leader it knows of
    # from the metadata.
    two = f"{topic_name}-rf2"
    create_topic(cluster, two, rf=2)
    meta = partition_meta(cluster, two)
    outsider = next(b for b in cluster if b.node_id not in meta.replicas)
    two_id, two_leader, two_epoch, _ = raw_metadata(cluster[0], two)
    assert fetch(outsider, 11, two, None, -1)[1].error_code == NOT_LEADER_OR_FOLLOWER
    r, p = fetch(outsider, 16, two, two_id, -1)
    assert p.error_code == NOT_LEADER_OR_FOLLOWER
    assert (p.current_leader.leader_id, p.current_leader.leader_epoch) == (two_leader, two_epoch)
    assert [n.node_id for n in r.node_endpoints] == [two_leader]


def test_delete_records_on_the_leader_moves_the_followers_log_start(zookeeper, broker_factory, topic_name):  # noqa: F811
    cluster = start_cluster(f"{zookeeper.connect}/tern", broker_factory)
    create_topic(cluster, topic_name)
    produce_acks_all(cluster, topic_name, 100)
    wait_isr(cluster, topic_name)
    _, leader_id, epoch, _ = raw_metadata(cluster[0], topic_name)
    followers = [b for b in cluster if b.node_id != leader_id]
    # Only the leader deletes; a follower answers NOT_LEADER_OR_FOLLOWER.
    with rk.RawConnection.to(followers[0].bootstrap) as conn:
        r = rk.kp_request(conn, DeleteRecordsRequest, DeleteRecordsResponse, 2, timeout_ms=5000, topics=[
            {"name": topic_name, "partitions": [{"partition_index": 0, "offset": 40}]}])
    assert r.topics[0].partitions[0].error_code == NOT_LEADER_OR_FOLLOWER
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    result = admin.delete_records([TopicPartition(topic_name, 0, 40)])
    assert list(result.values())[0].result(10).low_watermark == 40
    # Followers take the leader's log start offset from its fetch responses, and the answer waited for them (the
    # low watermark is the smallest over the replicas): both have it already (replica id -2 may ask any replica).
    for f in followers:
        assert list_offsets_debug(f, topic_name, -2) == 40


def list_offsets_debug(broker, topic, timestamp):
    with rk.RawConnection.to(broker.bootstrap) as conn:
        r = rk.kp_request(conn, ListOffsetsRequest, ListOffsetsResponse, 7, replica_id=-2, isolation_level=0,
                          topics=[{"name": topic, "partitions": [
                              {"partition_index": 0, "current_leader_epoch": -1, "timestamp": timestamp}]}])
    p = r.topics[0].partitions[0]
    assert p.error_code == 0, p
    return p.offset


def test_consumer_reads_from_the_follower_in_its_rack(zookeeper, broker_factory, topic_name):  # noqa: F811
    racks = ["rack-a", "rack-b", "rack-c"]
    cluster = start_cluster(f"{zookeeper.connect}/tern", broker_factory, racks=racks,
                            **{"replica.selector.class": SELECTOR})
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "2"})
    produce_acks_all(cluster, topic_name, 500)
    wait_isr(cluster, topic_name)
    topic_id, leader_id, epoch, _ = raw_metadata(cluster[0], topic_name)
    leader = by_id(cluster, leader_id)
    follower = next(b for b in cluster if b is not leader)
    rack = racks[follower.node_id]

    # The leader answers a consumer in the follower's rack with that follower and no records...
    _, p = fetch(leader, 11, topic_name, None, epoch, rack=rack)
    assert (p.error_code, p.preferred_read_replica, record_count(p.records)) == (0, follower.node_id, 0)
    # ...one in its own rack (or without a rack) with records.
    _, p = fetch(leader, 11, topic_name, None, epoch, rack=racks[leader_id])
    assert (p.preferred_read_replica, record_count(p.records)) == (-1, 500)
    # The follower serves v11+ consumers up to the high watermark it learnt from the leader.
    wait_for(lambda: fetch(follower, 11, topic_name, None, epoch)[1].high_watermark == 500, 10, "the follower's HW")
    _, p = fetch(follower, 11, topic_name, None, epoch)
    assert (p.error_code, p.high_watermark, record_count(p.records)) == (0, 500, 500)
    # A parked follower fetch answers when the high watermark moves, so the follower serves new records at once.
    prod = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all"})
    prod.produce(topic_name, value=b"v500")
    assert prod.flush(10) == 0
    acked = time.monotonic()
    wait_for(lambda: fetch(follower, 11, topic_name, None, epoch)[1].high_watermark == 501, 10, "the new HW")
    print(f"follower high watermark covered an acks=all record {1000 * (time.monotonic() - acked):.0f} ms after its ack")
    # Past its log end: OFFSET_OUT_OF_RANGE, which sends the client back to the leader.
    assert fetch(follower, 11, topic_name, None, epoch, offset=10_000)[1].error_code == OFFSET_OUT_OF_RANGE

    stats: list[dict] = []
    c = Consumer({"bootstrap.servers": bootstrap(cluster), "group.id": f"g-{topic_name}", "client.rack": rack,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False, "statistics.interval.ms": 200,
                  "stats_cb": lambda s: stats.append(json.loads(s))})
    c.assign([TopicPartition(topic_name, 0, 0)])
    got = []
    producer_done = threading.Event()

    def more():  # records produced while the consumer reads from the follower reach it too
        produce_acks_all(cluster, topic_name, 300, prefix="w")
        producer_done.set()

    deadline = time.monotonic() + 40
    threading.Thread(target=more, daemon=True).start()
    while len(got) < 801 and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value().decode())
    for _ in range(5):  # one more statistics round after the last record
        c.poll(0.2)
    c.close()
    assert producer_done.is_set()
    assert got == [f"v{i}" for i in range(501)] + [f"w{i}" for i in range(300)]
    fetched_from = {s["topics"][topic_name]["partitions"]["0"]["broker"] for s in stats
                    if topic_name in s.get("topics", {})}
    assert follower.node_id in fetched_from, fetched_from
    fetches = {b["nodeid"]: b["req"].get("Fetch", 0) for b in stats[-1]["brokers"].values() if b["nodeid"] >= 0}
    assert fetches[follower.node_id] > 0, fetches


def remote_ports(pid):
    """Remote ports of the established TCP connections of process `pid` (from /proc: its socket inodes)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "01" and cols[9] in inodes:  # ESTABLISHED
                ports.add(int(cols[2].rsplit(":", 1)[1], 16))
    return ports


def ensemble_connections(ensemble, brokers):
    """ZooKeeper node id -> ids of the brokers with a session connection to it."""
    peers = {b.node_id: remote_ports(b.proc.pid) for b in brokers if b.is_running()}
    return {n.myid: [b for b, ports in peers.items() if n.port in ports] for n in ensemble.nodes if n.is_running()}


def test_brokers_survive_the_loss_of_zookeeper_nodes(zookeeper_ensemble, broker_factory, topic_name):  # noqa: F811
    ens = zookeeper_ensemble
    cluster = start_cluster(f"{ens.connect}/tern", broker_factory, session_ms=6000)
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "2"})
    produce_acks_all(cluster, topic_name, 100, prefix="a")
    sessions = {b.node_id: b.log_text().count("new ZooKeeper session") for b in cluster}

    # First the node most brokers are connected to, then (after it is back) the ZooKeeper leader: each time two
    # of three nodes remain, a quorum.
    for round_, pick in enumerate(("busiest", "leader")):
        conns = ensemble_connections(ens, cluster)
        victim = (max(ens.nodes, key=lambda n: len(conns.get(n.myid, []))) if pick == "busiest" else ens.leader())
        moved = conns.get(victim.myid, [])
        assert sum(len(v) for v in conns.values()) == 3, conns  # one session per broker
        if pick == "busiest":
            assert moved, conns
        mode = victim.mode()
        killed_at = time.monotonic()
        victim.kill()
        ens.wait_for_quorum(30)
        if moved:
            wait_for(lambda: all(b in sum((v for k, v in ensemble_connections(ens, cluster).items()), [])
                                 for b in moved), 20, f"brokers {moved} reconnected to another ZooKeeper node")
        print(f"ZooKeeper node {victim.myid} ({mode}) killed: brokers {moved} on another node after "
              f"{time.monotonic() - killed_at:.2f} s")
        # Registrations are ephemeral: all three still listed means no session was lost.
        md = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=10)
        assert sorted(md.brokers) == [0, 1, 2] and topic_name in md.topics
        produce_acks_all(cluster, topic_name, 100, prefix="bc"[round_])
        # Topic changes still reach every broker through the surviving nodes' watches.
        extra = f"{topic_name}-{round_}"
        create_topic(cluster, extra)
        for b in cluster:
            wait_for(lambda b=b: extra in AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=5).topics,
                     10, f"{extra} visible on broker {b.node_id}")
        victim.start()
        ens.wait_for_quorum(60)

    c = Consumer({"bootstrap.servers": bootstrap(cluster), "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic_name, 0, 0)])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 300 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value().decode())
    c.close()
    assert got == [f"{p}{i}" for p in "abc" for i in range(100)]
    # Nobody had to open a new session: the old ones moved between ZooKeeper nodes.
    assert {b.node_id: b.log_text().count("new ZooKeeper session") for b in cluster} == sessions
    for b in cluster:
        assert "session expired" not in b.log_text(), b.log_tail()
