#!/usr/bin/env python3
"""Writes a deterministic, realistic snapshot JSON (the --snapshot-file format of
Sources/Snapshot/SnapshotJSON.swift): one Kubernetes-pods-like job, COLLECTORS
collectors, TARGETS targets per collector, ~10 labels per target.

usage: gen-snapshot.py OUT JOB COLLECTORS TARGETS
"""
import json
import random
import sys

out, job, collectors, per = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(42)
hexdigits = "0123456789abcdef"
alnum = "bcdfghjklmnpqrstvwxz2456789"


def rand(chars, n):
    return "".join(rng.choice(chars) for _ in range(n))


apps = ["checkout", "cart", "payments", "search", "catalog", "auth", "gateway", "orders", "shipping", "inventory"]
targets = []
for c in range(collectors):
    for i in range(per):
        app = apps[(c * per + i) % len(apps)]
        ns = "team-%d" % ((c * per + i) % 7)
        ip = "10.%d.%d.%d" % (c + 1, i // 250, i % 250 + 1)
        labels = {
            "__address__": ip + ":8080",
            "__meta_kubernetes_namespace": ns,
            "__meta_kubernetes_pod_name": "%s-%s-%s" % (app, rand(alnum, 10), rand(alnum, 5)),
            "__meta_kubernetes_pod_ip": ip,
            "__meta_kubernetes_pod_node_name": "node-%02d" % ((c * per + i) % 40),
            "__meta_kubernetes_pod_uid": "%s-%s-%s-%s-%s"
            % (rand(hexdigits, 8), rand(hexdigits, 4), rand(hexdigits, 4), rand(hexdigits, 4), rand(hexdigits, 12)),
            "__meta_kubernetes_pod_ready": "true",
            "__meta_kubernetes_pod_container_name": app,
            "__meta_kubernetes_pod_container_port_number": "8080",
            "__meta_kubernetes_pod_label_app_kubernetes_io_name": app,
            "__meta_kubernetes_pod_label_pod_template_hash": rand(alnum, 10),
        }
        targets.append({"job": job, "collector": "collector-%d" % c, "labels": labels})

snapshot = {
    "epoch": 1,
    "generation": 1,
    "leader": "bench",
    "created_at_ms": 1764000000000,
    "collectors": [{"name": "collector-%d" % c, "node": "node-%02d" % c} for c in range(collectors)],
    "jobs": [
        {
            "name": job,
            "scrape_config": {"job_name": job, "scrape_interval": "30s", "scrape_timeout": "10s", "metrics_path": "/metrics"},
        }
    ],
    "targets": targets,
}
with open(out, "w") as f:
    json.dump(snapshot, f)
    f.write("\n")
