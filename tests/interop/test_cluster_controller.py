"""Issue 6: the ZooKeeper-mode controller's requests to brokers (LeaderAndIsr, UpdateMetadata, StopReplica),
topic deletion through /admin/delete_topics, and dynamic broker configs in /config/brokers.

The controller-epoch fence is checked with raw frames (rawkafka.Writer): a request from a deposed controller (an
epoch below the one the broker has seen) is refused with STALE_CONTROLLER_EPOCH (11) and changes nothing.
ZooKeeper is read with ZooKeeper's own shell (one JVM per call, so calls are batched).
"""

from __future__ import annotations

import json
import subprocess

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                   NewTopic)

from rawkafka import RawConnection, Reader, Writer
from test_cluster import SESSION_MS, bootstrap, create_topic, make_cluster, partition_meta, wait_for
from zk import ZK_CLASSPATH, zookeeper  # noqa: F401  (fixture)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

STALE_CONTROLLER_EPOCH, STALE_BROKER_EPOCH = 11, 77
LEADER_AND_ISR, STOP_REPLICA, UPDATE_METADATA, CONTROLLED_SHUTDOWN = 4, 5, 6, 7


def zk_shell(zookeeper, *commands: str) -> list[str]:
    """Runs zkCli commands under the cluster's chroot; returns the output lines."""
    script = "".join(f"{c}\n" for c in commands) + "quit\n"
    r = subprocess.run(["java", "-cp", ZK_CLASSPATH, "org.apache.zookeeper.ZooKeeperMain", "-server",
                        f"{zookeeper.connect}/tern"], input=script, capture_output=True, text=True, timeout=60)
    return r.stdout.splitlines()


def zk_ls(zookeeper, *paths: str) -> list[list[str]]:
    """Children of each (existing) path, in order."""
    lists = [line for line in zk_shell(zookeeper, *(f"ls {p}" for p in paths)) if line.startswith("[")]
    assert len(lists) == len(paths), lists
    return [[c.strip() for c in line[1:-1].split(",") if c.strip()] for line in lists]


def single_zk_broker(zookeeper, broker_factory, broker_id=0, **extra):
    b = broker_factory(overrides={"broker.id": broker_id, "zookeeper.connect": f"{zookeeper.connect}/tern",
                                  "zookeeper.session.timeout.ms": SESSION_MS,
                                  "controlled.shutdown.retry.backoff.ms": 200, **extra})
    # The broker knows itself from the controller's first UpdateMetadata.
    wait_for(lambda: broker_id in AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=5).brokers, 15,
             "the controller's UpdateMetadata")
    return b


# ---- raw controller requests (non-flexible versions, encoded by hand) ---------------------------------------------

def leader_and_isr_v1(controller_epoch, topic, partition, leader, leader_epoch, isr, zk_version, replicas):
    w = Writer().int32(0).int32(controller_epoch).int32(1)
    w.string(topic).int32(partition).int32(controller_epoch).int32(leader).int32(leader_epoch)
    w.int32(len(isr))
    for r in isr:
        w.int32(r)
    w.int32(zk_version).int32(len(replicas))
    for r in replicas:
        w.int32(r)
    w.boolean(False)
    return w.int32(0).bytes()  # no live leaders


def update_metadata_v0(controller_epoch, topic, partition, leader):
    w = Writer().int32(0).int32(controller_epoch).int32(1)
    w.string(topic).int32(partition).int32(controller_epoch).int32(leader).int32(99).int32(1).int32(leader)
    w.int32(0).int32(1).int32(leader)
    return w.int32(0).bytes()  # no live brokers


def stop_replica_v0(controller_epoch, topic, partition, delete):
    return Writer().int32(0).int32(controller_epoch).boolean(delete).int32(1).string(topic).int32(partition).bytes()


# Broker epochs (KIP-380): LeaderAndIsr v2, UpdateMetadata v5, StopReplica v1 and ControlledShutdown v2 carry one.

def leader_and_isr_v2(controller_epoch, broker_epoch):
    return Writer().int32(0).int32(controller_epoch).int64(broker_epoch).int32(0).int32(0).bytes()


def update_metadata_v5(controller_epoch, broker_epoch):
    return Writer().int32(0).int32(controller_epoch).int64(broker_epoch).int32(0).int32(0).bytes()


def stop_replica_v1(controller_epoch, broker_epoch, topic, partition):
    w = Writer().int32(0).int32(controller_epoch).int64(broker_epoch).boolean(False)
    return w.int32(1).string(topic).int32(1).int32(partition).bytes()


def controlled_shutdown_v2(broker_id, broker_epoch):
    return Writer().int32(broker_id).int64(broker_epoch).bytes()


def partition_errors(r: Reader):
    return [(r.string(), r.int32(), r.int16()) for _ in range(r.int32())]


def call(broker, api_key, version, body):
    with RawConnection.to(broker.bootstrap) as conn:
        conn.send_request(api_key, version, body)
        _, payload = conn.recv_response(header_version=0)
        return Reader(payload)


def test_stale_controller_epoch_is_refused(zookeeper, broker_factory, topic_name):
    b = single_zk_broker(zookeeper, broker_factory)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(15)
    wait_for(lambda: partition_meta([b], topic_name).leader == 0, 15, "leader")
    epoch = int(next(line for line in zk_shell(zookeeper, "get /controller_epoch") if line.strip().isdigit()))
    assert epoch >= 1

    # A deposed controller (epoch - 1) is refused whole, for every request type, and changes nothing.
    r = call(b, LEADER_AND_ISR, 1, leader_and_isr_v1(epoch - 1, topic_name, 0, 7, 50, [7], 9, [0, 7]))
    assert r.int16() == STALE_CONTROLLER_EPOCH
    assert partition_errors(r) == [(topic_name, 0, STALE_CONTROLLER_EPOCH)]
    r = call(b, UPDATE_METADATA, 0, update_metadata_v0(epoch - 1, topic_name, 0, 7))
    assert r.int16() == STALE_CONTROLLER_EPOCH
    r = call(b, STOP_REPLICA, 0, stop_replica_v0(epoch - 1, topic_name, 0, True))
    assert r.int16() == STALE_CONTROLLER_EPOCH
    assert partition_errors(r) == [(topic_name, 0, STALE_CONTROLLER_EPOCH)]

    # Broker epochs: the registration's czxid. One older is for an earlier incarnation of the broker: refused before
    # anything else (the deposed controller epoch is not even looked at); the current one and a newer one pass
    # that check and meet the controller-epoch fence.
    czxid = int(next(line for line in zk_shell(zookeeper, "stat /brokers/ids/0") if line.startswith("cZxid"))
                .split("=")[1].strip(), 16)
    assert f"broker epoch {czxid}" in b.log_text()
    for stale in (czxid - 1, 0):
        r = call(b, LEADER_AND_ISR, 2, leader_and_isr_v2(epoch, stale))
        assert r.int16() == STALE_BROKER_EPOCH
        r = call(b, UPDATE_METADATA, 5, update_metadata_v5(epoch, stale))
        assert r.int16() == STALE_BROKER_EPOCH
        r = call(b, STOP_REPLICA, 1, stop_replica_v1(epoch, stale, topic_name, 0))
        assert r.int16() == STALE_BROKER_EPOCH
        assert partition_errors(r) == [(topic_name, 0, STALE_BROKER_EPOCH)]
        # The controller refuses a controlled shutdown from an earlier incarnation too.
        r = call(b, CONTROLLED_SHUTDOWN, 2, controlled_shutdown_v2(0, stale))
        assert (r.int16(), r.int32()) == (STALE_BROKER_EPOCH, 0)
    for current in (czxid, czxid + 1000, -1):
        r = call(b, UPDATE_METADATA, 5, update_metadata_v5(epoch - 1, current))
        assert r.int16() == STALE_CONTROLLER_EPOCH, current
        r = call(b, STOP_REPLICA, 1, stop_replica_v1(epoch - 1, current, topic_name, 0))
        assert r.int16() == STALE_CONTROLLER_EPOCH, current

    # The current controller epoch with a leader epoch that is not newer than the replica's: ignored for that
    # partition (Kafka answers STALE_CONTROLLER_EPOCH there), the request itself accepted.
    r = call(b, LEADER_AND_ISR, 1, leader_and_isr_v1(epoch, topic_name, 0, 7, 0, [7], 9, [0, 7]))
    assert r.int16() == 0
    assert partition_errors(r) == [(topic_name, 0, STALE_CONTROLLER_EPOCH)]

    meta = partition_meta([b], topic_name)
    assert (meta.leader, meta.isrs) == (0, [0])
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    p.produce(topic_name, value=b"still the leader")
    assert p.flush(15) == 0
    assert b.partition_dir(topic_name, 0).exists()


# ---- topic deletion ------------------------------------------------------------------------------------------------

def log_dirs(broker, topic):
    return sorted(p.name for p in broker.data_dir.glob(f"{topic}-*"))


def produce_some(brokers, topic, partitions):
    p = Producer({"bootstrap.servers": bootstrap(brokers), "acks": "all"})
    for i in range(30):
        p.produce(topic, value=f"v{i}".encode(), partition=i % partitions)
    assert p.flush(15) == 0


def test_topic_deletion_removes_every_replica_and_the_topic_can_be_recreated(zookeeper, broker_factory, topic_name):
    cluster = make_cluster(zookeeper, broker_factory)
    create_topic(cluster, topic_name, partitions=3)
    produce_some(cluster, topic_name, 3)
    assert all(log_dirs(b, topic_name) == [f"{topic_name}-{p}" for p in range(3)] for b in cluster)

    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    admin.delete_topics([topic_name], operation_timeout=30)[topic_name].result(40)
    wait_for(lambda: all(log_dirs(b, topic_name) == [] for b in cluster), 15, "every replica's log deleted")
    topics, configs, pending = zk_ls(zookeeper, "/brokers/topics", "/config/topics", "/admin/delete_topics")
    assert topic_name not in topics and topic_name not in configs and pending == []
    assert topic_name not in admin.list_topics(timeout=5).topics

    # The name is free again, with another partition count.
    create_topic(cluster, topic_name, partitions=2)
    produce_some(cluster, topic_name, 2)
    assert all(log_dirs(b, topic_name) == [f"{topic_name}-0", f"{topic_name}-1"] for b in cluster)


def test_topic_deletion_completes_when_a_down_replica_returns(zookeeper, broker_factory, topic_name):
    cluster = make_cluster(zookeeper, broker_factory)
    create_topic(cluster, topic_name, partitions=2)
    produce_some(cluster, topic_name, 2)
    controller = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=5).controller_id
    down = next(b for b in cluster if b.node_id != controller)
    down.kill9()
    up = [b for b in cluster if b is not down]
    wait_for(lambda: len(AdminClient({"bootstrap.servers": bootstrap(up)}).list_topics(timeout=5).brokers) == 2,
             15, "the killed broker's registration expired")

    admin = AdminClient({"bootstrap.servers": bootstrap(up)})
    with pytest.raises(KafkaException) as timed_out:
        admin.delete_topics([topic_name], operation_timeout=3)[topic_name].result(20)
    assert timed_out.value.args[0].name() == "REQUEST_TIMED_OUT"
    wait_for(lambda: all(log_dirs(b, topic_name) == [] for b in up), 15, "live replicas' logs deleted")
    assert log_dirs(down, topic_name) == [f"{topic_name}-0", f"{topic_name}-1"]
    topics, pending = zk_ls(zookeeper, "/brokers/topics", "/admin/delete_topics")
    assert topic_name in topics and pending == [topic_name], "deletion waits for the down replica"

    down.start()
    wait_for(lambda: log_dirs(down, topic_name) == [], 20, "the returning replica's logs deleted")
    wait_for(lambda: topic_name not in AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=5).topics,
             15, "topic gone")
    topics, configs, pending = zk_ls(zookeeper, "/brokers/topics", "/config/topics", "/admin/delete_topics")
    assert topic_name not in topics and topic_name not in configs and pending == []


# ---- ISR change notifications ----------------------------------------------------------------------------------

def test_isr_change_reaches_every_broker_through_the_notification(zookeeper, broker_factory, topic_name):
    """A follower is killed; the leader drops it from the ISR (replica.lag.time.max.ms) itself and leaves an
    /isr_change_notification; the controller tells every broker, whose Metadata then shows the smaller ISR."""
    cluster = make_cluster(zookeeper, broker_factory, **{"zookeeper.session.timeout.ms": 30000,
                                                         "replica.lag.time.max.ms": 1500})
    create_topic(cluster, topic_name)
    meta = partition_meta(cluster, topic_name)
    controller = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=5).controller_id
    follower = next(b for b in cluster if b.node_id not in (meta.leader, controller))
    follower.kill9()  # its session (30 s) outlives the test: only the leader can shrink the ISR
    others = [b for b in cluster if b is not follower]
    for b in others:
        wait_for(lambda: sorted(partition_meta([b], topic_name).isrs) == sorted(set(meta.isrs) - {follower.node_id}),
                 15, f"smaller ISR in broker {b.node_id}'s metadata")
    assert zk_ls(zookeeper, "/isr_change_notification") == [[]], "the controller deleted the notification"


# ---- dynamic broker configs ------------------------------------------------------------------------------------

def broker_entries(admin, name):
    res = ConfigResource(ConfigResource.Type.BROKER, name)
    return admin.describe_configs([res])[res].result(15)


def incremental(admin, name, **values):
    res = ConfigResource(ConfigResource.Type.BROKER, name, incremental_configs=[
        ConfigEntry(k.replace("_", "."), v, incremental_operation=AlterConfigOpType.SET) for k, v in values.items()])
    return admin.incremental_alter_configs([res])[res]


def set_cluster_default(broker, key, value):
    """IncrementalAlterConfigs v0 SET on the BROKER resource "" (the clients' admin APIs refuse an empty name)."""
    body = Writer().int32(1).int8(4).string("").int32(1).string(key).int8(0).string(value).boolean(False).bytes()
    r = call(broker, 44, 0, body)
    r.int32()  # throttle
    assert r.int32() == 1
    assert r.int16() == 0, r.string()


def describe_cluster_default(broker):
    """DescribeConfigs v1 of the BROKER resource "": {name: (value, source)}."""
    r = call(broker, 32, 1, Writer().int32(1).int8(4).string("").int32(-1).boolean(False).bytes())
    r.int32()  # throttle
    assert r.int32() == 1
    assert r.int16() == 0
    r.string(), r.int8(), r.string()
    out = {}
    for _ in range(r.int32()):
        name, value, _ro, source, _sensitive = r.string(), r.string(), r.int8(), r.int8(), r.int8()
        for _ in range(r.int32()):
            r.string(), r.string(), r.int8()
        out[name] = (value, source)
    return out


def test_dynamic_broker_config_survives_restart_and_reaches_other_brokers(zookeeper, broker_factory, topic_name):
    b0 = single_zk_broker(zookeeper, broker_factory, 0)
    b1 = single_zk_broker(zookeeper, broker_factory, 1)
    a0 = AdminClient({"bootstrap.servers": b0.bootstrap})
    a1 = AdminClient({"bootstrap.servers": b1.bootstrap})
    incremental(a0, "0", log_retention_ms="123456").result(15)
    set_cluster_default(b0, "log.segment.bytes", "2097152")
    with pytest.raises(KafkaException) as refused:
        incremental(a0, "0", broker_id="5").result(15)
    assert refused.value.args[0].name() == "INVALID_REQUEST"

    data = next(line for line in zk_shell(zookeeper, "get /config/brokers/0") if line.startswith("{"))
    assert json.loads(data) == {"version": 1, "config": {"log.retention.ms": "123456"}}

    def check(admin, broker_id, own):
        e = broker_entries(admin, str(broker_id))
        if own:
            assert (e["log.retention.ms"].value, e["log.retention.ms"].source) == (
                "123456", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
        else:
            assert e["log.retention.ms"].source != ConfigSource.DYNAMIC_BROKER_CONFIG.value
        assert (e["log.segment.bytes"].value, e["log.segment.bytes"].source) == (
            "2097152", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)
        assert not e["log.segment.bytes"].is_read_only

    check(a0, 0, own=True)
    wait_for(lambda: broker_entries(a1, "1")["log.segment.bytes"].value == "2097152", 10,
             "the default reaches broker 1 through /config/changes")
    check(a1, 1, own=False)
    assert describe_cluster_default(b1) == {
        "log.segment.bytes": ("2097152", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)}

    # New topics take the dynamic defaults (segment.bytes from the cluster default).
    a0.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(15)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name)
    topic = a0.describe_configs([res])[res].result(15)
    assert topic["segment.bytes"].value == "2097152"

    b0.restart()
    check(AdminClient({"bootstrap.servers": b0.bootstrap}), 0, own=True)
