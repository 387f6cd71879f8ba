#!/usr/bin/env python3
"""Captures the first request frames real Kafka clients send, as test fixtures for the codecs.

Usage: capture_frames.py OUT_DIR

Runs a fake broker on 127.0.0.1 that answers ApiVersions (so the client goes on) and records every
request frame (4-byte size prefix included) until the client's Metadata request, then hangs up.
Clients driven: kcat (librdkafka), confluent-kafka (librdkafka), kafka-python. Each frame is saved as
OUT_DIR/<client>-<ApiName>-v<version>.bin. Standard library only; the clients come from the venv
at /work/venv-tmp (override with TERN_CLIENT_PYTHON).
"""

import os
import socket
import struct
import subprocess
import sys
import threading

API_NAMES = {18: "ApiVersions", 3: "Metadata"}
# What the fake broker advertises: enough for clients to send ApiVersions and Metadata.
ADVERTISED = [(0, 0, 9), (1, 4, 12), (2, 1, 7), (3, 0, 12), (8, 2, 8), (9, 1, 8), (10, 0, 4),
              (11, 0, 7), (12, 0, 4), (13, 0, 4), (14, 0, 5), (18, 0, 3), (19, 0, 7)]


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def api_versions_response(correlation_id, version):
    """ApiVersions response; its header is always v0 (correlation id only)."""
    body = bytearray(struct.pack(">h", 0))
    if version >= 3:
        body += uvarint(len(ADVERTISED) + 1)
        for key, lo, hi in ADVERTISED:
            body += struct.pack(">hhh", key, lo, hi) + b"\x00"
        body += struct.pack(">i", 0) + b"\x00"
    else:
        body += struct.pack(">i", len(ADVERTISED))
        for key, lo, hi in ADVERTISED:
            body += struct.pack(">hhh", key, lo, hi)
        if version >= 1:
            body += struct.pack(">i", 0)
    payload = struct.pack(">i", correlation_id) + bytes(body)
    return struct.pack(">i", len(payload)) + payload


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve(listener, client, out_dir, saved):
    listener.settimeout(20)
    try:
        while True:
            conn, _ = listener.accept()
            conn.settimeout(10)
            with conn:
                while True:
                    size_bytes = read_exact(conn, 4)
                    if size_bytes is None:
                        break
                    (size,) = struct.unpack(">i", size_bytes)
                    payload = read_exact(conn, size)
                    if payload is None:
                        break
                    api_key, version, correlation_id = struct.unpack(">hhi", payload[:8])
                    name = API_NAMES.get(api_key, "Api%d" % api_key)
                    path = os.path.join(out_dir, "%s-%s-v%d.bin" % (client, name, version))
                    if path not in saved:
                        with open(path, "wb") as f:
                            f.write(size_bytes + payload)
                        saved.append(path)
                    if api_key == 18:
                        if version > 3:
                            # Unsupported: answer v0 with UNSUPPORTED_VERSION, as Kafka does.
                            resp = api_versions_response(correlation_id, 0)
                            resp = resp[:8] + struct.pack(">h", 35) + resp[10:]
                            conn.sendall(resp)
                        else:
                            conn.sendall(api_versions_response(correlation_id, version))
                    elif api_key == 3:
                        return
                    else:
                        return
    except socket.timeout:
        return


def capture(client, command_for_port, out_dir):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    saved = []
    thread = threading.Thread(target=serve, args=(listener, client, out_dir, saved))
    thread.start()
    proc = subprocess.Popen(command_for_port(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    thread.join(30)
    proc.kill()
    proc.wait()
    listener.close()
    for p in saved:
        print(p)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    python = os.environ.get("TERN_CLIENT_PYTHON", "/work/venv-tmp/bin/python")
    capture("kcat", lambda port: ["kcat", "-L", "-b", "127.0.0.1:%d" % port, "-m", "5"], out_dir)
    confluent = ("from confluent_kafka.admin import AdminClient\n"
                 "a = AdminClient({'bootstrap.servers': '127.0.0.1:%d', 'client.id': 'tern-fixture'})\n"
                 "a.list_topics(timeout=5)\n")
    capture("confluent-kafka", lambda port: [python, "-c", confluent % port], out_dir)
    kafka_python = ("from kafka import KafkaConsumer\n"
                    "c = KafkaConsumer(bootstrap_servers='127.0.0.1:%d', client_id='tern-fixture',"
                    " request_timeout_ms=5000)\n"
                    "c.topics()\n")
    capture("kafka-python", lambda port: [python, "-c", kafka_python % port], out_dir)


if __name__ == "__main__":
    main()
