"""Issue 6, partition reassignment, rack-aware placement and leader election tools: ZooKeeper + 3 `tern server`s.

Moves go through AlterPartitionReassignments (the `tern reassign-partitions` tool, raw frames) and the
/admin/reassign_partitions znode; the controller adds the new replicas, waits for them in the ISR, moves the
leader, then drops the old replicas, whose brokers delete their logs. Checked with confluent-kafka producing and
consuming throughout, and with Metadata as any client sees it.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.protocol.admin import (AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
                                  ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse)

import rawkafka as rk
from test_cli import tern
from test_cluster import bootstrap, make_cluster, partition_meta, read_all, wait_for
from zk import ZK_CLASSPATH, zookeeper  # noqa: F401  (fixture)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

@pytest.fixture
def cluster(zookeeper, broker_factory):
    # replica.lag.time.max.ms stays at test_cluster's 5 s: new replicas join the ISR on the fetch that catches up,
    # not at the periodic check.
    return make_cluster(zookeeper, broker_factory)


def create_placed(brokers, topic, assignment, configs=None):
    """A topic with an explicit replica assignment (one list per partition), waiting for its leaders."""
    admin = AdminClient({"bootstrap.servers": bootstrap(brokers)})
    for f in admin.create_topics([NewTopic(topic, len(assignment), replica_assignment=assignment, config=configs or {})]).values():
        f.result(15)
    wait_for(lambda: all(partition_meta(brokers, topic, p).leader >= 0 for p in range(len(assignment))), 15, "leaders")


def produce(brokers, topic, values):
    p = Producer({"bootstrap.servers": bootstrap(brokers), "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    for v in values:
        p.produce(topic, value=v)
    assert p.flush(30) == 0


def plan_file(tmp_path, topic, replicas_by_partition, name="plan.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": topic, "partition": p, "replicas": r} for p, r in enumerate(replicas_by_partition)]}))
    return str(path)


def reassign(brokers, *args, check=True):
    return tern("reassign-partitions", f"--bootstrap-server={bootstrap(brokers)}", *args, check=check)


def wait_completed(brokers, plan, timeout=30):
    def done():
        out = reassign(brokers, "--verify", "--reassignment-json-file", plan).stdout.decode()
        return "still in progress" not in out
    wait_for(done, timeout, "reassignment completed")
    return reassign(brokers, "--verify", "--reassignment-json-file", plan).stdout.decode()


def by_id(brokers, node_id):
    return next(b for b in brokers if b.node_id == node_id)


def zk_cli(zookeeper, *args):
    return subprocess.run(["java", "-cp", ZK_CLASSPATH, "org.apache.zookeeper.ZooKeeperMain", "-server",
                           f"{zookeeper.connect}/tern", *args], check=True, capture_output=True, timeout=60)


def test_move_rf1_partition_while_producing_loses_nothing(cluster, topic_name, tmp_path):
    create_placed(cluster, topic_name, [[0]])
    acked, failed, crashed, lock, stop = [], [], [], threading.Lock(), threading.Event()
    moving = threading.Event()

    def on_delivery(err, msg):
        with lock:
            if err is None:
                acked.append(msg.value().decode())
            else:
                failed.append(f"{msg.value()}: {err}")

    def run():
        # One idempotent producer for the whole test: 3000 records before the move, then a steady stream.
        try:
            p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all", "enable.idempotence": True,
                          "linger.ms": 2, "message.timeout.ms": 30000, "topic.metadata.refresh.interval.ms": 1000})
            for i in range(3000):
                p.produce(topic_name, value=f"pre{i:05d}", on_delivery=on_delivery)
                p.poll(0)
            assert p.flush(30) == 0
            moving.set()
            i = 0
            while not stop.is_set():
                p.produce(topic_name, value=f"m{i:06d}", on_delivery=on_delivery)
                i += 1
                p.poll(0)
                time.sleep(0.002)
            assert p.flush(40) == 0
        except BaseException as e:  # noqa: BLE001  (reported by the test thread)
            crashed.append(repr(e))
            moving.set()

    writer = threading.Thread(target=run)
    writer.start()
    try:
        assert moving.wait(60) and not crashed, crashed
        time.sleep(1)
        assert cluster[0].partition_dir(topic_name, 0).exists()
        plan = plan_file(tmp_path, topic_name, [[1]])
        out = reassign(cluster, "--execute", "--reassignment-json-file", plan).stdout.decode()
        assert out.splitlines()[:3] == [
            "Current partition replica assignment", "",
            f'{{"version":1,"partitions":[{{"topic":"{topic_name}","partition":0,"replicas":[0],"log_dirs":["any"]}}]}}']
        assert f"Successfully started partition reassignment for {topic_name}-0" in out
        started = time.monotonic()
        verified = wait_completed(cluster, plan)
        moved_in = time.monotonic() - started
        assert verified.splitlines() == ["Status of partition reassignment:",
                                         f"Reassignment of partition {topic_name}-0 is completed."]
        time.sleep(1.5)  # keep producing to the new leader for a while
    finally:
        stop.set()
        writer.join(60)
    assert not crashed, crashed

    meta = partition_meta(cluster, topic_name)
    assert (meta.replicas, meta.leader, meta.isrs) == ([1], 1, [1])
    with lock:
        assert failed == [], failed[:5]
        values = list(acked)
    during = sum(1 for v in values if v.startswith("m"))
    assert during > 100, "the producer kept writing through the move"
    print(f"\nRF=1 move 0 -> 1: completed {moved_in:.2f}s after --execute; {during} records acked after the preload")
    got = read_all(cluster, topic_name, len(values))
    missing = set(values) - set(got)
    assert not missing, f"{len(missing)} acknowledged record(s) lost, e.g. {sorted(missing)[:5]}"
    assert len(got) == len(set(got)), "no record twice"
    assert got == values, "in the order acknowledged"
    # The old replica stopped and its log directory went away.
    wait_for(lambda: not cluster[0].partition_dir(topic_name, 0).exists(), 15, "old replica's log deleted")
    assert "replica stopped and its log deleted (StopReplica)" in cluster[0].log_text()


def test_replication_factor_one_to_three(cluster, topic_name, tmp_path):
    create_placed(cluster, topic_name, [[2]])
    produce(cluster, topic_name, [f"v{i}".encode() for i in range(2000)])
    # The leader's log no longer starts at 0: the new replicas must start where it starts.
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    admin.delete_records([TopicPartition(topic_name, 0, 500)])[TopicPartition(topic_name, 0, 500)].result(15)
    plan = plan_file(tmp_path, topic_name, [[2, 0, 1]])
    reassign(cluster, "--execute", "--reassignment-json-file", plan)
    wait_completed(cluster, plan)
    meta = partition_meta(cluster, topic_name)
    assert meta.replicas == [2, 0, 1] and meta.leader == 2 and sorted(meta.isrs) == [0, 1, 2]
    # The new replicas hold the records: with the old one gone, the new leader serves every one of them.
    cluster[2].kill9()
    wait_for(lambda: partition_meta(cluster[:2], topic_name).leader in (0, 1), 20, "a new replica leads")
    assert read_from(cluster[:2], topic_name, 500, 1500) == [f"v{i}" for i in range(500, 2000)]


def read_from(brokers, topic, offset, expected, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap(brokers), "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, offset)])
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            out.append(m.value().decode())
    c.close()
    return out


def test_in_progress_reassignment_is_listed_described_and_cancelled(cluster, topic_name, tmp_path):
    create_placed(cluster, topic_name, [[0]])
    produce(cluster, topic_name, [b"x"] * 100)
    # Broker 2 dies; its registration lingers for the session timeout, long enough for the move to be accepted,
    # and the new replica never catches up: the move stays in progress.
    cluster[2].kill9()
    plan = plan_file(tmp_path, topic_name, [[0, 2]])
    reassign(cluster, "--execute", "--reassignment-json-file", plan)
    live = cluster[:2]

    listed = reassign(live, "--list").stdout.decode().splitlines()
    assert listed == ["Current partition reassignments:", f"{topic_name}-0: replicas: 0,2. adding: 2."]
    assert f"Reassignment of partition {topic_name}-0 is still in progress." in \
        reassign(live, "--verify", "--reassignment-json-file", plan).stdout.decode()
    assert partition_meta(live, topic_name).replicas == [0, 2], "Metadata lists the full replica set meanwhile"
    described = tern("topics", f"--bootstrap-server={bootstrap(live)}", "--describe", "--topic", topic_name).stdout.decode()
    assert "\tAdding Replicas: 2\tRemoving Replicas: " in described, described
    assert "ReplicationFactor: 2" in described
    # A second --execute without --additional is refused, as Kafka's tool does.
    refused = reassign(live, "--execute", "--reassignment-json-file", plan, check=False)
    assert refused.returncode == 1 and "Cannot execute because there is an existing partition assignment" in refused.stdout.decode()

    out = reassign(live, "--cancel", "--reassignment-json-file", plan).stdout.decode()
    assert f"Successfully cancelled partition reassignment for: {topic_name}-0" in out
    assert reassign(live, "--list").stdout.decode().strip() == "No partition reassignments found."
    meta = partition_meta(live, topic_name)
    assert (meta.replicas, meta.leader, meta.isrs) == ([0], 0, [0])
    assert "None of the specified partition reassignments are active." in \
        reassign(live, "--cancel", "--reassignment-json-file", plan).stdout.decode()
    # Broker 2 comes back: nothing of the cancelled replica is left on it.
    cluster[2].start()
    time.sleep(2)
    assert not cluster[2].partition_dir(topic_name, 0).exists()
    assert read_all(cluster, topic_name, 100) == ["x"] * 100


def test_api_errors_and_not_controller(cluster, topic_name):
    create_placed(cluster, topic_name, [[0, 1]])
    controller = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=5).controller_id
    other = next(b for b in cluster if b.node_id != controller)
    with rk.RawConnection.to(other.bootstrap) as conn:
        versions = conn.api_versions().api_keys
        assert versions[45] == (0, 0) and versions[46] == (0, 0)
        r = rk.kp_request(conn, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, 0,
                          timeout_ms=5000, topics=None)
        assert r.error_code == 41, "NOT_CONTROLLER on a broker that is not the controller"

    def alter(partitions):
        with rk.RawConnection.to(by_id(cluster, controller).bootstrap) as conn:
            r = rk.kp_request(conn, AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, 0,
                              timeout_ms=5000, topics=[{"name": topic_name, "partitions": partitions}])
        assert r.error_code == 0
        return {p.partition_index: (p.error_code, p.error_message) for t in r.responses for p in t.partitions}

    got = alter([{"partition_index": 0, "replicas": []}, {"partition_index": 1, "replicas": [1]},
                 {"partition_index": 2, "replicas": None}])
    assert got[0][0] == 39  # INVALID_REPLICA_ASSIGNMENT
    assert got[1][0] == 3  # UNKNOWN_TOPIC_OR_PARTITION
    assert got[2][0] == 85  # NO_REASSIGNMENT_IN_PROGRESS (nothing to cancel)
    assert alter([{"partition_index": 0, "replicas": [1, 1]}])[0][0] == 39
    assert alter([{"partition_index": 0, "replicas": [0, 9]}])[0][0] == 39  # broker 9 is not alive
    assert alter([{"partition_index": 0, "replicas": None}])[0][0] == 85
    assert partition_meta(cluster, topic_name).replicas == [0, 1], "nothing changed"


def test_generate_execute_verify(cluster, topic_name, tmp_path):
    create_placed(cluster, topic_name, [[0, 1], [1, 0], [0, 1]])
    produce(cluster, topic_name, [b"g"] * 300)
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps({"topics": [{"topic": topic_name}], "version": 1}))
    out = reassign(cluster, "--generate", "--topics-to-move-json-file", str(topics), "--broker-list", "1,2").stdout.decode()
    lines = out.strip().split("\n")
    assert lines[0] == "Current partition replica assignment"
    current = json.loads(lines[1])
    assert current == {"version": 1, "partitions": [
        {"topic": topic_name, "partition": p, "replicas": r, "log_dirs": ["any", "any"]}
        for p, r in enumerate([[0, 1], [1, 0], [0, 1]])]}
    assert lines[2] == "" and lines[3] == "Proposed partition reassignment configuration"
    proposed = json.loads(lines[4])
    assert [e["partition"] for e in proposed["partitions"]] == [0, 1, 2]
    for e in proposed["partitions"]:
        assert sorted(e["replicas"]) == [1, 2], e
    plan = tmp_path / "proposed.json"
    plan.write_text(lines[4])
    reassign(cluster, "--execute", "--reassignment-json-file", str(plan))
    verified = wait_completed(cluster, str(plan))
    assert verified.splitlines() == ["Status of partition reassignment:"] + [
        f"Reassignment of partition {topic_name}-{p} is completed." for p in range(3)], verified
    for p in range(3):
        assert sorted(partition_meta(cluster, topic_name, p).replicas) == [1, 2]
        wait_for(lambda p=p: not cluster[0].partition_dir(topic_name, p).exists(), 15, "broker 0 dropped its replicas")


def test_reassign_partitions_znode(cluster, zookeeper, topic_name):
    create_placed(cluster, topic_name, [[0], [1]])
    produce(cluster, topic_name, [b"z"] * 50)
    data = json.dumps({"version": 1, "partitions": [{"topic": topic_name, "partition": 0, "replicas": [2]},
                                                    {"topic": topic_name, "partition": 1, "replicas": [1, 2]}]})
    zk_cli(zookeeper, "create", "/admin/reassign_partitions", data)
    wait_for(lambda: partition_meta(cluster, topic_name, 0).replicas == [2]
             and partition_meta(cluster, topic_name, 1).replicas == [1, 2], 30, "moves requested through ZooKeeper")
    # Each partition leaves the znode as it completes; the controller deletes it with the last one.
    wait_for(lambda: _znode_gone(zookeeper, "/admin/reassign_partitions"), 20, "znode removed")
    got = zk_cli(zookeeper, "get", f"/brokers/topics/{topic_name}").stdout.decode().splitlines()
    topic_node = json.loads(next(line for line in got if line.startswith("{")))
    assert topic_node["partitions"] == {"0": [2], "1": [1, 2]}
    assert topic_node["adding_replicas"] == {} and topic_node["removing_replicas"] == {}


def _znode_gone(zookeeper, path):
    cp = subprocess.run(["java", "-cp", ZK_CLASSPATH, "org.apache.zookeeper.ZooKeeperMain", "-server",
                         f"{zookeeper.connect}/tern", "stat", path], capture_output=True, timeout=60)
    return b"does not exist" in cp.stdout + cp.stderr


def racks_of(admin):
    return {n.id: n.rack for n in admin.describe_cluster(request_timeout=5).result(10).nodes}


def test_rack_aware_placement(zookeeper, broker_factory, topic_name):
    racks = {0: "r0", 1: "r1", 2: "r2"}
    brokers = [broker_factory(overrides={
        "broker.id": i, "broker.rack": racks[i], "zookeeper.connect": f"{zookeeper.connect}/tern",
        "zookeeper.session.timeout.ms": 2000, "controlled.shutdown.retry.backoff.ms": 200}) for i in range(3)]
    admin = AdminClient({"bootstrap.servers": bootstrap(brokers)})
    wait_for(lambda: len(admin.list_topics(timeout=5).brokers) == 3, 15, "three brokers")
    assert racks_of(admin) == racks
    for f in admin.create_topics([NewTopic(topic_name, 6, 3)]).values():
        f.result(15)
    leaders = set()
    for p in range(6):
        replicas = partition_meta(brokers, topic_name, p).replicas
        assert sorted(racks[r] for r in replicas) == ["r0", "r1", "r2"], replicas
        leaders.add(replicas[0])
    assert leaders == {0, 1, 2}, "preferred leaders spread over the racks"
    # One broker without a rack among brokers with racks: Kafka refuses to place replicas.
    brokers[2].restart(**{"broker.rack": ""})
    wait_for(lambda: racks_of(admin) == {0: "r0", 1: "r1", 2: None}, 20, "broker 2 back without a rack")
    mixed = topic_name + "-mixed"
    with pytest.raises(KafkaException) as failure:
        admin.create_topics([NewTopic(mixed, 1, 2)])[mixed].result(15)
    assert failure.value.args[0].code() == KafkaError.UNKNOWN, failure.value  # UNKNOWN_SERVER_ERROR, as Kafka
    assert "Not all brokers have rack information" in "".join(b.log_text() for b in brokers)


def test_leader_election_tool_preferred(cluster, topic_name):
    create_placed(cluster, topic_name, [[0, 1, 2]])
    # Broker 0 restarts: controlled shutdown hands leadership to 1, and 0 comes back as a follower.
    cluster[0].restart()
    wait_for(lambda: sorted(partition_meta(cluster, topic_name).isrs) == [0, 1, 2], 30, "broker 0 back in the ISR")
    assert partition_meta(cluster, topic_name).leader != 0
    b = f"--bootstrap-server={bootstrap(cluster)}"
    out = tern("leader-election", b, "--election-type", "PREFERRED", "--topic", topic_name, "--partition", "0").stdout.decode()
    assert out.strip() == f"Successfully completed leader election (PREFERRED) for partitions {topic_name}-0"
    assert partition_meta(cluster, topic_name).leader == 0
    again = tern("leader-election", b, "--election-type", "PREFERRED", "--topic", topic_name, "--partition", "0").stdout.decode()
    assert again.strip() == f"Valid replica already elected for partitions {topic_name}-0"
    unclean = tern("leader-election", b, "--election-type", "UNCLEAN", "--all-topic-partitions").stdout.decode()
    assert unclean.strip() == "", "every partition has a leader: nothing to report"
    bad = tern("leader-election", b, "--election-type", "PREFERRED", "--topic", topic_name, "--partition", "5", check=False)
    assert bad.returncode == 1
    assert f"Error completing leader election (PREFERRED) for partition: {topic_name}-5" in bad.stdout.decode()


def test_new_controller_resumes_a_reassignment(cluster, topic_name, tmp_path):
    controller = AdminClient({"bootstrap.servers": bootstrap(cluster)}).list_topics(timeout=5).controller_id
    others = [b.node_id for b in cluster if b.node_id != controller]
    source, target = others
    create_placed(cluster, topic_name, [[source]])
    produce(cluster, topic_name, [b"r"] * 200)
    # The target dies just before the move starts: the move waits for it, recorded only in ZooKeeper.
    by_id(cluster, target).kill9()
    plan = plan_file(tmp_path, topic_name, [[target]])
    reassign(cluster, "--execute", "--reassignment-json-file", plan)
    by_id(cluster, controller).kill9()
    survivor = [by_id(cluster, source)]
    wait_for(lambda: AdminClient({"bootstrap.servers": bootstrap(survivor)}).list_topics(timeout=5).controller_id == source,
             20, "a new controller")
    assert reassign(survivor, "--list").stdout.decode().splitlines()[1] == \
        f"{topic_name}-0: replicas: {target},{source}. adding: {target}. removing: {source}."
    by_id(cluster, target).start()
    wait_for(lambda: partition_meta(cluster, topic_name).replicas == [target], 30, "the move completed")
    meta = partition_meta(cluster, topic_name)
    assert (meta.leader, meta.isrs) == (target, [target])
    assert "resuming the reassignment" in by_id(cluster, source).log_text()
    wait_for(lambda: not by_id(cluster, source).partition_dir(topic_name, 0).exists(), 15, "source replica deleted")
    assert read_all([by_id(cluster, target)], topic_name, 200) == ["r"] * 200
