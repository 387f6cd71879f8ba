"""Admin APIs of the single broker driven by real admin clients: CreatePartitions, DeleteRecords, DescribeConfigs,
AlterConfigs, IncrementalAlterConfigs, DescribeLogDirs, DescribeTopicPartitions, DescribeCluster.

confluent-kafka's AdminClient must stay referenced until its futures complete (a destroyed handle fails them with
_DESTROY), so every test keeps one in a local variable.
"""

from __future__ import annotations

import os
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions,
                                   NewTopic)
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType as KpConfigResourceType
from kafka.admin import KafkaAdminClient

from clients import consume_confluent, make_records, produce_confluent, wait_for_topic, watermarks

pytestmark = pytest.mark.broker

TIMEOUT = 15


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create(a: AdminClient, bootstrap: str, name: str, partitions: int, config: dict | None = None) -> None:
    fs = a.create_topics([NewTopic(name, partitions, 1, config={k: str(v) for k, v in (config or {}).items()})],
                         operation_timeout=TIMEOUT)
    fs[name].result(TIMEOUT)
    wait_for_topic(bootstrap, name, partitions)


def error_code(future) -> int:
    with pytest.raises(KafkaException) as e:
        future.result(TIMEOUT)
    return e.value.args[0].code()


def topic_configs(a: AdminClient, name: str) -> dict:
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    return a.describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)


def kp_admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT * 1000)


# ---- CreatePartitions ----------------------------------------------------------------------------------------------


def test_create_partitions_grow_validate_and_persist(broker, topic_name):
    a = admin(broker.bootstrap)
    create(a, broker.bootstrap, topic_name, 2)
    # validate_only changes nothing.
    a.create_partitions([NewPartitions(topic_name, 8)], validate_only=True)[topic_name].result(TIMEOUT)
    wait_for_topic(broker.bootstrap, topic_name, 2)
    a.create_partitions([NewPartitions(topic_name, 5)], operation_timeout=TIMEOUT)[topic_name].result(TIMEOUT)
    wait_for_topic(broker.bootstrap, topic_name, 5)
    # Not an increase: INVALID_PARTITIONS, for fewer and for the same count.
    assert error_code(a.create_partitions([NewPartitions(topic_name, 3)])[topic_name]) == KafkaError.INVALID_PARTITIONS
    assert error_code(a.create_partitions([NewPartitions(topic_name, 5)])[topic_name]) == KafkaError.INVALID_PARTITIONS
    assert error_code(a.create_partitions([NewPartitions("no-such-topic", 5)])["no-such-topic"]) == \
        KafkaError.UNKNOWN_TOPIC_OR_PART
    # The new partitions take records.
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for part in range(5):
        p.produce(topic_name, f"v{part}".encode(), partition=part)
    assert p.flush(TIMEOUT) == 0
    assert {part: hi for part, (_, hi) in watermarks(broker.bootstrap, topic_name, 5).items()} == {i: 1 for i in range(5)}
    # The count survives a restart.
    broker.restart()
    wait_for_topic(broker.bootstrap, topic_name, 5)
    assert {part: hi for part, (_, hi) in watermarks(broker.bootstrap, topic_name, 5).items()} == {i: 1 for i in range(5)}


def test_create_partitions_assignments(broker, topic_name):
    a = admin(broker.bootstrap)
    create(a, broker.bootstrap, topic_name, 1)
    bad = [
        NewPartitions(topic_name, 3, replica_assignment=[[0]]),        # one assignment for two new partitions
        NewPartitions(topic_name, 2, replica_assignment=[[7]]),        # unknown broker
        NewPartitions(topic_name, 2, replica_assignment=[[0, 0]]),     # duplicate broker
    ]
    for new in bad:
        assert error_code(a.create_partitions([new])[topic_name]) == KafkaError.INVALID_REPLICA_ASSIGNMENT
    a.create_partitions([NewPartitions(topic_name, 3, replica_assignment=[[0], [0]])])[topic_name].result(TIMEOUT)
    wait_for_topic(broker.bootstrap, topic_name, 3)


# ---- DeleteRecords -------------------------------------------------------------------------------------------------


def test_delete_records(broker, topic_name):
    a = admin(broker.bootstrap)
    create(a, broker.bootstrap, topic_name, 2)
    produce_confluent(broker.bootstrap, topic_name, make_records(200))
    marks = watermarks(broker.bootstrap, topic_name, 2)
    cut = {p: hi // 2 for p, (lo, hi) in marks.items()}
    fs = a.delete_records([TopicPartition(topic_name, p, off) for p, off in cut.items()], request_timeout=TIMEOUT)
    for tp, f in fs.items():
        assert f.result(TIMEOUT).low_watermark == cut[tp.partition]
    after = watermarks(broker.bootstrap, topic_name, 2)
    assert {p: lo for p, (lo, _) in after.items()} == cut
    got = consume_confluent(broker.bootstrap, topic_name, 2, sum(marks[p][1] - cut[p] for p in cut))
    assert min(m.offset for m in got if m.partition == 0) == cut[0]
    # Beyond the high watermark: OFFSET_OUT_OF_RANGE; the low watermark stays.
    fs = a.delete_records([TopicPartition(topic_name, 0, marks[0][1] + 100)], request_timeout=TIMEOUT)
    assert error_code(list(fs.values())[0]) == KafkaError.OFFSET_OUT_OF_RANGE
    # -1 (OFFSET_END) means the high watermark: the partition becomes empty.
    fs = a.delete_records([TopicPartition(topic_name, 1, -1)], request_timeout=TIMEOUT)
    assert list(fs.values())[0].result(TIMEOUT).low_watermark == marks[1][1]
    assert watermarks(broker.bootstrap, topic_name, 2)[1] == (marks[1][1], marks[1][1])
    # The log start offset survives a restart.
    broker.restart()
    wait_for_topic(broker.bootstrap, topic_name, 2)
    assert {p: lo for p, (lo, _) in watermarks(broker.bootstrap, topic_name, 2).items()} == {0: cut[0], 1: marks[1][1]}


# ---- DescribeConfigs -----------------------------------------------------------------------------------------------


def test_describe_topic_configs_sources_and_synonyms(broker_factory, topic_name):
    b = broker_factory(overrides={"log.retention.hours": "48", "log.segment.bytes": "104857600"})
    a = admin(b.bootstrap)
    create(a, b.bootstrap, topic_name, 1, {"cleanup.policy": "compact", "max.message.bytes": 5000})
    entries = topic_configs(a, topic_name)
    assert entries["cleanup.policy"].value == "compact"
    assert entries["cleanup.policy"].source == 1  # DYNAMIC_TOPIC_CONFIG
    assert entries["max.message.bytes"].value == "5000"
    assert entries["retention.ms"].value == str(48 * 3600 * 1000)
    assert entries["retention.ms"].source == 4  # STATIC_BROKER_CONFIG
    assert entries["segment.bytes"].value == "104857600"
    assert entries["segment.bytes"].source == 4
    assert entries["min.insync.replicas"].source == 5  # DEFAULT_CONFIG
    assert entries["min.insync.replicas"].is_default
    # librdkafka asks for synonyms (and keeps them in a dict by name).
    syn = entries["max.message.bytes"].synonyms
    assert (syn["max.message.bytes"].value, syn["max.message.bytes"].source) == ("5000", 1)
    assert (syn["message.max.bytes"].value, syn["message.max.bytes"].source) == ("1048588", 5)
    # The order of synonyms is precedence: the override, then server.properties, then the defaults.
    kp = kp_admin(b.bootstrap)
    try:
        got = kp.describe_configs([KpConfigResource(KpConfigResourceType.TOPIC, topic_name)],
                                  include_synonyms=True, config_filter="all")["topic"][topic_name]
    finally:
        kp.close()
    assert [(s["name"], s["value"], s["source"]) for s in got["retention.ms"]["synonyms"]] == [
        ("log.retention.hours", "48", "STATIC_BROKER_CONFIG"), ("log.retention.hours", "168", "DEFAULT_CONFIG")]
    assert [(s["name"], s["source"]) for s in got["cleanup.policy"]["synonyms"]] == [
        ("cleanup.policy", "DYNAMIC_TOPIC_CONFIG"), ("log.cleanup.policy", "DEFAULT_CONFIG")]


def test_describe_configs_kafka_python_types_and_filter(broker, topic_name):
    a = admin(broker.bootstrap)
    create(a, broker.bootstrap, topic_name, 1, {"retention.ms": 123456})
    kp = kp_admin(broker.bootstrap)
    try:
        got = kp.describe_configs([KpConfigResource(KpConfigResourceType.TOPIC, topic_name)],
                                  include_synonyms=True, config_filter="all")
        configs = got["topic"][topic_name]
        assert configs["retention.ms"]["value"] == "123456"
        assert configs["retention.ms"]["config_type"] == "LONG"
        assert configs["cleanup.policy"]["config_type"] == "LIST"
        assert configs["segment.bytes"]["config_type"] == "INT"
        assert configs["preallocate"]["config_type"] == "BOOLEAN"
        assert configs["min.cleanable.dirty.ratio"]["config_type"] == "DOUBLE"
        assert configs["retention.ms"]["documentation"] is None
        # Only the overrides count as modified.
        modified = kp.describe_configs([KpConfigResource(KpConfigResourceType.TOPIC, topic_name)])
        assert set(modified["topic"][topic_name]) == {"retention.ms"}
        # configuration_keys filter.
        some = kp.describe_configs([KpConfigResource(KpConfigResourceType.TOPIC, topic_name,
                                                     configs={"retention.ms": None, "nope": None})],
                                   config_filter="all")
        assert set(some["topic"][topic_name]) == {"retention.ms"}
    finally:
        kp.close()


def test_describe_configs_unknown_topic(broker):
    a = admin(broker.bootstrap)
    res = ConfigResource(ConfigResource.Type.TOPIC, "no-such-topic")
    assert error_code(a.describe_configs([res], request_timeout=TIMEOUT)[res]) == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_describe_broker_configs(broker_factory):
    b = broker_factory(num_partitions=3)
    a = admin(b.bootstrap)
    res = ConfigResource(ConfigResource.Type.BROKER, "0")
    entries = a.describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)
    assert entries["num.partitions"].value == "3"
    assert entries["num.partitions"].source == 4  # STATIC_BROKER_CONFIG
    assert entries["log.dirs"].value == str(b.data_dir)
    assert entries["log.dirs"].source == 4
    assert entries["message.max.bytes"].value == "1048588"
    assert entries["message.max.bytes"].source == 5  # DEFAULT_CONFIG
    assert entries["message.max.bytes"].is_read_only
    # kafka-python sends broker resources to that broker.
    kp = kp_admin(b.bootstrap)
    try:
        got = kp.describe_configs([KpConfigResource(KpConfigResourceType.BROKER, "0")], config_filter="all")
        configs = got["broker"]["0"]
        assert configs["num.partitions"]["value"] == "3"
        assert configs["num.partitions"]["config_type"] == "INT"
        assert configs["auto.create.topics.enable"]["config_type"] == "BOOLEAN"
    finally:
        kp.close()


# ---- AlterConfigs / IncrementalAlterConfigs --------------------------------------------------------------------------


def test_alter_configs_replaces_overrides_and_persists(broker, topic_name):
    a = admin(broker.bootstrap)
    create(a, broker.bootstrap, topic_name, 1, {"retention.ms": 1000, "cleanup.policy": "compact"})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name, set_config={"retention.bytes": "5000000"})
    a.alter_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)
    entries = topic_configs(a, topic_name)
    assert entries["retention.bytes"].value == "5000000"
    assert entries["retention.bytes"].source == 1
    # Everything not given went back to the default.
    assert entries["retention.ms"].source != 1 and entries["retention.ms"].value == "604800000"
    assert entries["cleanup.policy"].value == "delete"
    # validate_only changes nothing.
    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name, set_config={"retention.bytes": "1"})
    a.alter_configs([res], validate_only=True, request_timeout=TIMEOUT)[res].result(TIMEOUT)
    assert topic_configs(a, topic_name)["retention.bytes"].value == "5000000"
    # Bad values and unknown names: INVALID_CONFIG.
    for bad in ({"retention.bytes": "lots"}, {"no.such.config": "1"}):
        res = ConfigResource(ConfigResource.Type.TOPIC, topic_name, set_config=bad)
        assert error_code(a.alter_configs([res], request_timeout=TIMEOUT)[res]) == KafkaError.INVALID_CONFIG
    res = ConfigResource(ConfigResource.Type.TOPIC, "no-such-topic", set_config={"retention.ms": "1"})
    assert error_code(a.alter_configs([res], request_timeout=TIMEOUT)[res]) == KafkaError.UNKNOWN_TOPIC_OR_PART
    broker.restart()
    a = admin(broker.bootstrap)
    assert topic_configs(a, topic_name)["retention.bytes"].value == "5000000"


def test_alter_broker_configs_rejected(broker):
    a = admin(broker.bootstrap)
    res = ConfigResource(ConfigResource.Type.BROKER, "0", set_config={"log.retention.ms": "1000"})
    assert error_code(a.alter_configs([res], request_timeout=TIMEOUT)[res]) == KafkaError.INVALID_REQUEST
    res = ConfigResource(ConfigResource.Type.BROKER, "0",
                         incremental_configs=[ConfigEntry("log.retention.ms", "1000",
                                                          incremental_operation=AlterConfigOpType.SET)])
    assert error_code(a.incremental_alter_configs([res])[res]) == KafkaError.INVALID_REQUEST


def test_incremental_alter_configs(broker, topic_name):
    a = admin(broker.bootstrap)
    create(a, broker.bootstrap, topic_name, 1, {"retention.ms": 1000})

    def alter(*ops, validate_only=False):
        res = ConfigResource(ConfigResource.Type.TOPIC, topic_name,
                             incremental_configs=[ConfigEntry(n, v, incremental_operation=op) for n, v, op in ops])
        return a.incremental_alter_configs([res], validate_only=validate_only)[res]

    alter(("cleanup.policy", "compact", AlterConfigOpType.APPEND)).result(TIMEOUT)
    entries = topic_configs(a, topic_name)
    assert entries["cleanup.policy"].value == "delete,compact"
    assert entries["retention.ms"].value == "1000"  # untouched: incremental
    alter(("cleanup.policy", "delete", AlterConfigOpType.SUBTRACT),
          ("segment.bytes", "1048576", AlterConfigOpType.SET),
          ("retention.ms", None, AlterConfigOpType.DELETE)).result(TIMEOUT)
    entries = topic_configs(a, topic_name)
    assert entries["cleanup.policy"].value == "compact"
    assert entries["segment.bytes"].value == "1048576"
    assert entries["retention.ms"].value == "604800000" and entries["retention.ms"].source == 5
    # validate_only, bad value, unknown name, APPEND to a non-list config.
    alter(("segment.bytes", "2097152", AlterConfigOpType.SET), validate_only=True).result(TIMEOUT)
    assert topic_configs(a, topic_name)["segment.bytes"].value == "1048576"
    assert error_code(alter(("segment.bytes", "-5", AlterConfigOpType.SET))) == KafkaError.INVALID_CONFIG
    assert error_code(alter(("no.such.config", "1", AlterConfigOpType.SET))) == KafkaError.INVALID_CONFIG
    assert error_code(alter(("retention.ms", "5", AlterConfigOpType.APPEND))) == KafkaError.INVALID_CONFIG
    # A failed resource changes nothing, even its valid entries.
    assert error_code(alter(("retention.ms", "5", AlterConfigOpType.SET),
                            ("segment.bytes", "x", AlterConfigOpType.SET))) == KafkaError.INVALID_CONFIG
    assert topic_configs(a, topic_name)["retention.ms"].source == 5


def test_config_change_applies_to_log_at_once(broker, topic_name):
    a = admin(broker.bootstrap)
    create(a, broker.bootstrap, topic_name, 1)
    produce_confluent(broker.bootstrap, topic_name, make_records(1, pad=4000))  # fits the default limit
    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name,
                         incremental_configs=[ConfigEntry("max.message.bytes", "1000",
                                                          incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([res])[res].result(TIMEOUT)
    _, failed = produce_confluent(broker.bootstrap, topic_name, make_records(1, pad=4000),
                                  {"message.timeout.ms": 5000, "compression.type": "none"},
                                  timeout=TIMEOUT, raise_on_error=False)
    assert [e.code() for _, e in failed] == [KafkaError.MSG_SIZE_TOO_LARGE]


# ---- DescribeLogDirs -----------------------------------------------------------------------------------------------


def test_describe_log_dirs(broker, topic_name):
    a = admin(broker.bootstrap)
    create(a, broker.bootstrap, topic_name, 2)
    produce_confluent(broker.bootstrap, topic_name, make_records(50))
    kp = kp_admin(broker.bootstrap)
    try:
        answer = kp.describe_log_dirs()
        assert len(answer) == 1 and answer[0]["broker"] == 0
        dirs = answer[0]["log_dirs"]
        assert len(dirs) == 1
        d = dirs[0]
        assert d["error_code"] == 0
        assert os.path.isabs(d["log_dir"]) and os.path.isdir(d["log_dir"])
        assert d["total_bytes"] > 0 and 0 <= d["usable_bytes"] <= d["total_bytes"]
        topics = {t["name"]: t for t in d["topics"]}
        parts = {p["partition_index"]: p for p in topics[topic_name]["partitions"]}
        assert set(parts) == {0, 1}
        on_disk = sum(f.stat().st_size for p in (0, 1) for f in broker.segment_files(topic_name, p))
        assert sum(p["partition_size"] for p in parts.values()) == on_disk > 0
        assert all(p["offset_lag"] == 0 and not p["is_future_key"] for p in parts.values())
        # Asking for one partition lists only it.
        one = kp.describe_log_dirs(topic_partitions={topic_name: [1]})[0]["log_dirs"][0]
        assert [(t["name"], [p["partition_index"] for p in t["partitions"]]) for t in one["topics"]] == [(topic_name, [1])]
    finally:
        kp.close()


# ---- DescribeTopicPartitions / DescribeCluster -----------------------------------------------------------------------


def test_describe_topic_partitions_paging(broker, topic_name):
    a = admin(broker.bootstrap)
    t1, t2 = f"{topic_name}-a", f"{topic_name}-b"
    create(a, broker.bootstrap, t1, 3)
    create(a, broker.bootstrap, t2, 2)
    kp = kp_admin(broker.bootstrap)
    try:
        pages, cursor = [], None
        while True:
            got = kp.describe_topic_partitions([t2, t1, "no-such-topic"], response_partition_limit=2, cursor=cursor)
            pages.append([(t["name"], [p["partition_index"] for p in t["partitions"]]) for t in got["topics"]
                          if t["error_code"] == 0])
            cursor = got["next_cursor"]
            if cursor is None:
                break
            assert len(pages) < 10
        assert pages == [[(t1, [0, 1])], [(t1, [2]), (t2, [0])], [(t2, [1])]]
        one = kp.describe_topic_partitions([t1, "no-such-topic"])
        by_name = {t["name"]: t for t in one["topics"]}
        assert by_name["no-such-topic"]["error_code"] == 3  # UNKNOWN_TOPIC_OR_PARTITION
        p0 = by_name[t1]["partitions"][0]
        assert p0["leader_id"] == 0 and p0["replica_nodes"] == [0] and p0["isr_nodes"] == [0]
        assert one["next_cursor"] is None
    finally:
        kp.close()


def test_describe_cluster(broker):
    a = admin(broker.bootstrap)
    desc = a.describe_cluster(request_timeout=TIMEOUT).result(TIMEOUT)
    assert [n.id for n in desc.nodes] == [0]
    assert desc.controller.id == 0
    assert desc.cluster_id
    assert f"{desc.nodes[0].host}:{desc.nodes[0].port}" == broker.bootstrap
