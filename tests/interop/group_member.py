"""A consumer-group member in its own process, so a test can kill -9 it like a crashed application.

    python group_member.py CLIENT BOOTSTRAP GROUP TOPIC CONF_JSON
CLIENT is confluent, kafka-python or aiokafka. CONF_JSON holds client settings (in that client's own spelling).
Prints one JSON line each time its assignment changes: {"assigned": [[topic, partition], ...], "t": seconds}, and
{"consumed": n} every time n grows by 100 or more. Exits cleanly (closing the consumer, leaving the group) on SIGTERM.
"""

import asyncio
import json
import signal
import sys
import time

stop = False


def on_term(*_):
    global stop
    stop = True


def emit(obj):
    obj["t"] = round(time.monotonic(), 3)
    print(json.dumps(obj), flush=True)


def run_confluent(bootstrap, group, topic, conf):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest", **conf})
    c.subscribe([topic])
    last, consumed, reported = None, 0, 0
    while not stop:
        for m in c.consume(num_messages=500, timeout=0.1):
            if m.error() is None:
                consumed += 1
        cur = sorted([tp.topic, tp.partition] for tp in c.assignment())
        if cur != last:
            emit({"assigned": cur})
            last = cur
        if consumed - reported >= 100:
            emit({"consumed": consumed})
            reported = consumed
    c.close()


def run_kafka_python(bootstrap, group, topic, conf):
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", **conf)
    last, consumed, reported = None, 0, 0
    while not stop:
        for msgs in c.poll(timeout_ms=100).values():
            consumed += len(msgs)
        cur = sorted([tp.topic, tp.partition] for tp in c.assignment())
        if cur != last:
            emit({"assigned": cur})
            last = cur
        if consumed - reported >= 100:
            emit({"consumed": consumed})
            reported = consumed
    c.close()


def run_aiokafka(bootstrap, group, topic, conf):
    from aiokafka import AIOKafkaConsumer

    async def main():
        if "partition_assignment_strategy" in conf:
            from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
            conf["partition_assignment_strategy"] = (RoundRobinPartitionAssignor,)
        c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", **conf)
        await c.start()
        last, consumed, reported = None, 0, 0
        try:
            while not stop:
                for msgs in (await c.getmany(timeout_ms=100)).values():
                    consumed += len(msgs)
                cur = sorted([tp.topic, tp.partition] for tp in c.assignment())
                if cur != last:
                    emit({"assigned": cur})
                    last = cur
                if consumed - reported >= 100:
                    emit({"consumed": consumed})
                    reported = consumed
        finally:
            await c.stop()

    asyncio.run(main())


def main():
    client, bootstrap, group, topic, conf = sys.argv[1:6]
    conf = json.loads(conf)
    signal.signal(signal.SIGTERM, on_term)
    if client == "kafka-python" and "partition_assignment_strategy" in conf:
        from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
        conf["partition_assignment_strategy"] = (RoundRobinPartitionAssignor,)
    {"confluent": run_confluent, "kafka-python": run_kafka_python, "aiokafka": run_aiokafka}[client](
        bootstrap, group, topic, conf)
    emit({"closed": True})


if __name__ == "__main__":
    main()
