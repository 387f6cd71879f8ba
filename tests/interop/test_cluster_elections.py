"""Issue 6, second slice: unclean leader election, preferred leader election (ElectLeaders, the
/admin/preferred_replica_election znode, auto.leader.rebalance.enable) and controlled shutdown on SIGTERM.
Real ZooKeeper + 3 `tern server` processes, as in test_cluster.py."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from confluent_kafka import ElectionType, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from test_cluster import (  # noqa: F401  (cluster is a fixture)
    SESSION_MS, bootstrap, cluster, create_topic, make_cluster, partition_meta, read_all, wait_for)
from zk import ZK_CLASSPATH, zookeeper  # noqa: F401  (fixture)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def replicas_of(brokers, topic, p=0):
    meta = partition_meta(brokers, topic, p)
    return meta.replicas, meta.leader, meta.isrs


def by_id(brokers, node_id):
    return next(b for b in brokers if b.node_id == node_id)


def _lose_whole_isr(cluster, topic):
    """Both followers die (the ISR shrinks to the leader), then the leader dies: only out-of-ISR replicas remain."""
    _, leader_id, _ = replicas_of(cluster, topic)
    leader = by_id(cluster, leader_id)
    followers = [b for b in cluster if b is not leader]
    p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all"})
    p.produce(topic, value=b"before")
    assert p.flush(15) == 0
    for f in followers:
        f.kill9()
    wait_for(lambda: partition_meta([leader], topic).isrs == [leader_id], 20, "ISR shrunk to the leader")
    p = Producer({"bootstrap.servers": leader.bootstrap, "acks": "1"})
    p.produce(topic, value=b"only-on-the-old-leader")
    assert p.flush(15) == 0
    leader.kill9()
    return leader, followers


def test_unclean_false_keeps_partition_offline_until_an_isr_member_returns(zookeeper, broker_factory, topic_name):
    cluster = make_cluster(zookeeper, broker_factory)
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "1"})
    leader, followers = _lose_whole_isr(cluster, topic_name)
    followers[0].restart(hard=True)
    time.sleep(3)
    assert partition_meta([followers[0]], topic_name).leader == -1, "an out-of-ISR replica must not lead"
    leader.restart(hard=True)
    wait_for(lambda: partition_meta([leader], topic_name).leader == leader.node_id, 20, "the ISR member leads again")
    assert read_all([leader, followers[0]], topic_name, 2) == ["before", "only-on-the-old-leader"]


def test_unclean_true_elects_a_live_replica_and_logs_possible_data_loss(zookeeper, broker_factory, topic_name):
    cluster = make_cluster(zookeeper, broker_factory)
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "1", "unclean.leader.election.enable": "true"})
    leader, followers = _lose_whole_isr(cluster, topic_name)
    back = followers[0]
    back.restart(hard=True)
    wait_for(lambda: partition_meta([back], topic_name).leader == back.node_id, 20, "unclean leader elected")
    assert partition_meta([back], topic_name).isrs == [back.node_id]
    assert "UNCLEAN leader election" in back.log_text()
    p = Producer({"bootstrap.servers": back.bootstrap, "acks": "all"})
    p.produce(topic_name, value=b"after")
    assert p.flush(15) == 0


def test_unclean_broker_default_true(zookeeper, broker_factory, topic_name):
    cluster = make_cluster(zookeeper, broker_factory, **{"unclean.leader.election.enable": "true"})
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "1"})
    leader, followers = _lose_whole_isr(cluster, topic_name)
    followers[1].restart(hard=True)
    wait_for(lambda: partition_meta([followers[1]], topic_name).leader == followers[1].node_id, 20, "unclean leader")


def _leader_away_and_back(cluster, topic):
    """Kills the preferred leader, restarts it and waits for it to be back in the ISR; returns its id."""
    replicas, leader_id, _ = replicas_of(cluster, topic)
    preferred = replicas[0]
    assert leader_id == preferred
    by_id(cluster, preferred).kill9()
    survivors = [b for b in cluster if b.is_running()]
    wait_for(lambda: partition_meta(survivors, topic).leader not in (-1, preferred), 20, "failover")
    by_id(cluster, preferred).restart()
    wait_for(lambda: sorted(partition_meta(cluster, topic).isrs) == [0, 1, 2], 30, "preferred replica back in the ISR")
    return preferred


def test_elect_leaders_preferred_moves_leadership_back(zookeeper, broker_factory, topic_name):
    cluster = make_cluster(zookeeper, broker_factory, **{"auto.leader.rebalance.enable": "false"})
    create_topic(cluster, topic_name, configs={"min.insync.replicas": "2"})
    preferred = _leader_away_and_back(cluster, topic_name)
    time.sleep(1)
    assert partition_meta(cluster, topic_name).leader != preferred, "no automatic rebalance when disabled"
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    tp = TopicPartition(topic_name, 0)
    result = admin.elect_leaders(ElectionType.PREFERRED, [tp]).result(15)
    assert result[tp] is None, result
    wait_for(lambda: partition_meta(cluster, topic_name).leader == preferred, 10, "preferred leader")
    again = admin.elect_leaders(ElectionType.PREFERRED, [tp]).result(15)
    assert again[tp] is not None and again[tp].name() == "ELECTION_NOT_NEEDED", again
    unclean = admin.elect_leaders(ElectionType.UNCLEAN, [tp]).result(15)
    assert unclean[tp] is not None and unclean[tp].name() == "ELECTION_NOT_NEEDED", unclean
    p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all"})
    p.produce(topic_name, value=b"x")
    assert p.flush(15) == 0


def test_preferred_replica_election_znode(zookeeper, broker_factory, topic_name):
    cluster = make_cluster(zookeeper, broker_factory, **{"auto.leader.rebalance.enable": "false"})
    create_topic(cluster, topic_name)
    preferred = _leader_away_and_back(cluster, topic_name)
    data = '{"version":1,"partitions":[{"topic":"%s","partition":0}]}' % topic_name
    subprocess.run(["java", "-cp", ZK_CLASSPATH, "org.apache.zookeeper.ZooKeeperMain", "-server",
                    f"{zookeeper.connect}/tern", "create", "/admin/preferred_replica_election", data],
                   check=True, capture_output=True, timeout=60)
    wait_for(lambda: partition_meta(cluster, topic_name).leader == preferred, 15, "preferred leader via the znode")


def test_auto_leader_rebalance_moves_leadership_back(zookeeper, broker_factory, topic_name):
    cluster = make_cluster(zookeeper, broker_factory, **{"leader.imbalance.check.interval.seconds": 1})
    create_topic(cluster, topic_name)
    preferred = _leader_away_and_back(cluster, topic_name)
    start = time.monotonic()
    wait_for(lambda: partition_meta(cluster, topic_name).leader == preferred, 15, "automatic rebalance")
    print(f"\nauto rebalance: leadership back on broker {preferred} {time.monotonic() - start:.2f}s after full ISR")


def test_sigterm_controlled_shutdown_keeps_producers_available(cluster, topic_name):
    create_topic(cluster, topic_name, partitions=3, configs={"min.insync.replicas": "2"})
    controller = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=5).controller_id
    # A partition led by a broker that is not the controller: its shutdown goes through the ControlledShutdown API.
    part = next(p for p in range(3) if partition_meta(cluster, topic_name, p).leader != controller)
    leader_id = partition_meta(cluster, topic_name, part).leader
    leader = by_id(cluster, leader_id)

    acked: list[tuple[float, str]] = []
    failed: list[str] = []
    lock = threading.Lock()

    def on_delivery(err, msg):
        with lock:
            (acked.append((time.monotonic(), msg.value().decode())) if err is None
             else failed.append(f"{msg.value().decode()}: {err}"))

    p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all", "enable.idempotence": True,
                  "linger.ms": 2, "message.timeout.ms": 30000})
    stop_at = None
    sent = 0
    t0 = time.monotonic()
    stopper = None
    while time.monotonic() - t0 < 20:
        p.produce(topic_name, value=f"m{sent:06d}", partition=part, on_delivery=on_delivery)
        sent += 1
        p.poll(0)
        time.sleep(0.002)
        if stop_at is None and sent == 1000:
            stop_at = time.monotonic()
            stopper = threading.Thread(target=leader.stop)
            stopper.start()
        if stop_at and time.monotonic() - stop_at > 3 and not leader.is_running():
            break
    assert p.flush(30) == 0
    stopper.join()
    assert failed == [], failed[:5]
    after = [t for t, _ in acked if t >= stop_at]
    gaps = [b - a for a, b in zip([stop_at] + after, after)]
    print(f"\ncontrolled shutdown: {len(acked)} acked of {sent}; longest ack pause after SIGTERM {max(gaps):.2f}s "
          f"(session timeout {SESSION_MS} ms)")
    log = leader.log_text()
    assert "controlled shutdown succeeded" in log, leader.log_tail()
    new_leader = partition_meta(cluster, topic_name, part).leader
    assert new_leader not in (-1, leader_id)
    assert max(gaps) < SESSION_MS / 1000, "leadership moved before the broker left, not after its session ended"
    survivors = [b for b in cluster if b.is_running()]
    c_values = [v for _, v in acked]
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap(survivors), "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic_name, part, 0)])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < len(c_values) and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value().decode())
    c.close()
    assert set(c_values) <= set(got)
