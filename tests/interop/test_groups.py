"""Issue 4 - consumer groups: classic rebalance protocol with several clients, failure detection, committed offsets,
static membership, cooperative-sticky, the KIP-848 `consumer` protocol, and the error codes of stale members.

Members run as subprocesses (group_member.py) so a test can SIGKILL one like a crashed application.
"""

import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition
from kafka.protocol.consumer.group import (HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse,
                                           OffsetCommitRequest, OffsetCommitResponse, SyncGroupRequest,
                                           SyncGroupResponse)
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest, FindCoordinatorResponse

import rawkafka as rk
from clients import create_topic, make_records, produce_confluent
from members import GroupMember, balanced, wait_until

pytestmark = pytest.mark.groups

PARTITIONS = 6
# Short timeouts so failure detection takes seconds; the broker must allow them.
GROUP_BROKER = {
    "group.min.session.timeout.ms": 1000,
    "group.consumer.min.session.timeout.ms": 1000,
    "group.consumer.session.timeout.ms": 6000,
    "group.consumer.min.heartbeat.interval.ms": 100,
    "group.consumer.heartbeat.interval.ms": 500,
}
CLASSIC = {"session.timeout.ms": 3000, "heartbeat.interval.ms": 300}

ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
MEMBER_ID_REQUIRED = 79


@pytest.fixture
def gbroker(broker_factory):
    return broker_factory(overrides=GROUP_BROKER)


@pytest.fixture
def members():
    started: list[GroupMember] = []

    def start(client, bootstrap, group, topic, conf=None, name=""):
        m = GroupMember(client, bootstrap, group, topic, conf, name or f"{client}-{len(started)}")
        started.append(m)
        return m

    start.all = started
    yield start
    for m in started:
        m.stop(timeout=10)


@pytest.fixture
def group_id():
    return f"g-{uuid.uuid4().hex[:10]}"


def test_three_members_split_partitions_and_failover(gbroker, topic_name, group_id, members):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    ms = [members("confluent", gbroker.bootstrap, group_id, topic_name, CLASSIC) for _ in range(3)]
    wait_until(lambda: balanced(ms, PARTITIONS) and all(len(m.partitions()) == 2 for m in ms), 30,
               "3 members with 2 distinct partitions each", ms)
    victim = ms[0]
    lost = victim.partitions()
    victim.kill9()
    t0 = time.monotonic()
    wait_until(lambda: balanced(ms[1:], PARTITIONS), 20, "survivors own all 6 partitions", ms)
    took = time.monotonic() - t0
    assert lost <= ms[1].partitions() | ms[2].partitions()
    assert took >= 1.0, "partitions moved before the session timeout could have expired"


def test_graceful_leave_rebalances_quickly(gbroker, topic_name, group_id, members):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    ms = [members("confluent", gbroker.bootstrap, group_id, topic_name, {"session.timeout.ms": 30000}) for _ in range(2)]
    wait_until(lambda: balanced(ms, PARTITIONS), 30, "2 members balanced", ms)
    ms[0].stop()  # LeaveGroup: no need to wait for the 30 s session timeout
    wait_until(lambda: ms[1].partitions() == set(range(PARTITIONS)), 15, "survivor owns all partitions", ms)


def test_committed_offsets_survive_restart(gbroker, topic_name, group_id):
    create_topic(gbroker.bootstrap, topic_name, 3)
    produce_confluent(gbroker.bootstrap, topic_name, make_records(300))
    commits = [TopicPartition(topic_name, 0, 17), TopicPartition(topic_name, 1, 42), TopicPartition(topic_name, 2, 99)]
    c = Consumer({"bootstrap.servers": gbroker.bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        c.commit(offsets=commits, asynchronous=False)
        got = c.committed([TopicPartition(topic_name, p) for p in range(3)], timeout=10)
        assert [(tp.partition, tp.offset) for tp in got] == [(0, 17), (1, 42), (2, 99)]
    finally:
        c.close()
    gbroker.restart()
    c = Consumer({"bootstrap.servers": gbroker.bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        got = c.committed([TopicPartition(topic_name, p) for p in range(3)], timeout=15)
        assert [(tp.partition, tp.offset) for tp in got] == [(0, 17), (1, 42), (2, 99)]
        # A partition never committed reads as "no offset" (-1001 in librdkafka), not an error.
        other = c.committed([TopicPartition(topic_name + "-none", 0)], timeout=10)[0]
        assert other.offset < 0 and other.error is None
    finally:
        c.close()
    # And the same offsets seen by kafka-python's admin client.
    from kafka import KafkaAdminClient
    a = KafkaAdminClient(bootstrap_servers=gbroker.bootstrap, request_timeout_ms=10000)
    try:
        # kafka-python 3 renamed list_consumer_group_offsets to list_group_offsets({group: None}) -> {group: {...}}.
        if hasattr(a, "list_group_offsets"):
            offs = a.list_group_offsets({group_id: None})[group_id]
        else:
            offs = a.list_consumer_group_offsets(group_id)
        assert {tp.partition: om.offset for tp, om in offs.items()} == {0: 17, 1: 42, 2: 99}
    finally:
        a.close()


def test_consumer_resumes_from_commit_after_restart(gbroker, topic_name, group_id):
    create_topic(gbroker.bootstrap, topic_name, 1)
    produce_confluent(gbroker.bootstrap, topic_name, make_records(100, keys=1))
    conf = {"bootstrap.servers": gbroker.bootstrap, "group.id": group_id, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", **CLASSIC}
    c = Consumer(conf)
    c.subscribe([topic_name])
    seen = []
    deadline = time.monotonic() + 30
    while len(seen) < 40 and time.monotonic() < deadline:
        for m in c.consume(10, timeout=0.5):
            if m.error() is None and len(seen) < 40:
                seen.append(m.offset())
                c.commit(message=m, asynchronous=False)
    c.close()
    assert seen == list(range(40))
    gbroker.restart()
    c = Consumer(conf)
    c.subscribe([topic_name])
    try:
        first = None
        deadline = time.monotonic() + 30
        while first is None and time.monotonic() < deadline:
            for m in c.consume(1, timeout=0.5):
                if m.error() is None:
                    first = m.offset()
        assert first == 40
    finally:
        c.close()


def test_mixed_clients_in_one_group(gbroker, topic_name, group_id, members):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    ms = [
        members("confluent", gbroker.bootstrap, group_id, topic_name,
                {**CLASSIC, "partition.assignment.strategy": "roundrobin"}),
        members("kafka-python", gbroker.bootstrap, group_id, topic_name,
                {"session_timeout_ms": 3000, "heartbeat_interval_ms": 300, "partition_assignment_strategy": "rr"}),
        members("aiokafka", gbroker.bootstrap, group_id, topic_name,
                {"session_timeout_ms": 3000, "heartbeat_interval_ms": 300, "partition_assignment_strategy": "rr"}),
    ]
    wait_until(lambda: balanced(ms, PARTITIONS), 45, "3 different clients share the 6 partitions", ms)
    produce_confluent(gbroker.bootstrap, topic_name, make_records(600, keys=60))
    wait_until(lambda: all(any(e.get("consumed", 0) > 0 for e in m.events) for m in ms), 30,
               "every member consumes", ms)


def test_static_membership_rejoin_keeps_assignment(gbroker, topic_name, group_id, members):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    conf = {"session.timeout.ms": 10000, "heartbeat.interval.ms": 300}
    a = members("confluent", gbroker.bootstrap, group_id, topic_name, {**conf, "group.instance.id": "static-a"}, "a")
    b = members("confluent", gbroker.bootstrap, group_id, topic_name, {**conf, "group.instance.id": "static-b"}, "b")
    wait_until(lambda: balanced([a, b], PARTITIONS), 30, "2 static members balanced", [a, b])
    before_a, before_b = a.partitions(), b.partitions()
    b_history = len(b.assignments())
    a.kill9()
    a2 = members("confluent", gbroker.bootstrap, group_id, topic_name, {**conf, "group.instance.id": "static-a"}, "a2")
    wait_until(lambda: a2.partitions() == before_a, 20, "restarted static member gets its partitions back", [a2, b])
    time.sleep(1)
    assert b.partitions() == before_b
    assert len(b.assignments()) == b_history, "the other static member was rebalanced"


def test_cooperative_sticky_incremental(gbroker, topic_name, group_id, members):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    conf = {**CLASSIC, "partition.assignment.strategy": "cooperative-sticky"}
    first = members("confluent", gbroker.bootstrap, group_id, topic_name, conf, "first")
    wait_until(lambda: first.partitions() == set(range(PARTITIONS)), 30, "first member owns everything", [first])
    second = members("confluent", gbroker.bootstrap, group_id, topic_name, conf, "second")
    wait_until(lambda: balanced([first, second], PARTITIONS) and len(first.partitions()) == 3, 30,
               "cooperative rebalance to 3+3", [first, second])
    # Incremental: the first member kept a subset of what it had and never went through an empty assignment.
    hist = first.assignments()
    start = next(i for i, a in enumerate(hist) if a)
    assert all(hist[start:]), f"first member lost all partitions during a cooperative rebalance: {hist}"
    assert first.assignment() <= hist[start]


def test_kip848_consumer_protocol(gbroker, topic_name, group_id, members):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    conf = {"group.protocol": "consumer"}
    ms = [members("confluent", gbroker.bootstrap, group_id, topic_name, conf, f"848-{i}") for i in range(2)]
    wait_until(lambda: balanced(ms, PARTITIONS) and all(len(m.partitions()) == 3 for m in ms), 45,
               "two KIP-848 members own 3 distinct partitions each", ms)
    produce_confluent(gbroker.bootstrap, topic_name, make_records(600, keys=60))
    wait_until(lambda: all(any(e.get("consumed", 0) > 0 for e in m.events) for m in ms), 30,
               "both members consume", ms)
    ms[0].stop()
    wait_until(lambda: ms[1].partitions() == set(range(PARTITIONS)), 20, "survivor owns all partitions", ms)


# ---- stale members over raw requests --------------------------------------------------------------------------------------


def _find_coordinator(conn, group):
    deadline = time.monotonic() + 15
    while True:
        r = rk.kp_request(conn, FindCoordinatorRequest, FindCoordinatorResponse, 4, key_type=0,
                          coordinator_keys=[group])
        c = r.coordinators[0]
        if c.error_code == 0:
            return c
        assert c.error_code == 15, c  # COORDINATOR_NOT_AVAILABLE while __consumer_offsets is created
        assert time.monotonic() < deadline, "coordinator never became available"
        time.sleep(0.2)


def _join(conn, group, member_id=""):
    return rk.kp_request(conn, JoinGroupRequest, JoinGroupResponse, 5, group_id=group, session_timeout_ms=10000,
                         rebalance_timeout_ms=10000, member_id=member_id, group_instance_id=None,
                         protocol_type="consumer", protocols=[{"name": "range", "metadata": b""}])


def test_stale_generation_and_unknown_member(gbroker, topic_name, group_id):
    create_topic(gbroker.bootstrap, topic_name, 1)
    with rk.RawConnection.to(gbroker.bootstrap) as conn:
        _find_coordinator(conn, group_id)
        first = _join(conn, group_id)
        assert first.error_code == MEMBER_ID_REQUIRED and first.member_id
        joined = _join(conn, group_id, first.member_id)
        assert joined.error_code == 0 and joined.leader == first.member_id
        gen, me = joined.generation_id, joined.member_id
        sync = rk.kp_request(conn, SyncGroupRequest, SyncGroupResponse, 3, group_id=group_id, generation_id=gen,
                             member_id=me, group_instance_id=None,
                             assignments=[{"member_id": me, "assignment": b""}])
        assert sync.error_code == 0

        def heartbeat(generation, member):
            return rk.kp_request(conn, HeartbeatRequest, HeartbeatResponse, 3, group_id=group_id,
                                 generation_id=generation, member_id=member, group_instance_id=None).error_code

        assert heartbeat(gen, me) == 0
        assert heartbeat(gen + 1, me) == ILLEGAL_GENERATION
        assert heartbeat(gen, "no-such-member") == UNKNOWN_MEMBER_ID

        def commit(generation, member):
            r = rk.kp_request(conn, OffsetCommitRequest, OffsetCommitResponse, 7, group_id=group_id,
                              generation_id_or_member_epoch=generation, member_id=member, group_instance_id=None,
                              topics=[{"name": topic_name, "partitions": [
                                  {"partition_index": 0, "committed_offset": 5, "committed_leader_epoch": -1,
                                   "committed_metadata": ""}]}])
            return r.topics[0].partitions[0].error_code

        assert commit(gen, me) == 0
        assert commit(gen - 1, me) == ILLEGAL_GENERATION
        assert commit(gen, "no-such-member") == UNKNOWN_MEMBER_ID
