#!/usr/bin/env python3
"""Walks data-subject requests through the API and times the steps that do the work.

For each subject: some purpose-bound reads first (so the access history is not empty), then an
access request filed, verified by a document check, submitted and approved (the approval builds
the access package), the package downloaded; then a destruction request the same way (the
approval crypto-shreds the subject). Prints p50/p90/p99/max of each timed step, in milliseconds.

Usage: requests.py BASE_URL TOKEN IDS_FILE [reads per subject]
IDS_FILE holds one subject id (UUID) per line.
"""
import json
import sys
import time
import urllib.request


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    start = time.perf_counter()
    with urllib.request.urlopen(req) as resp:
        payload = resp.read()
        status = resp.status
    return status, payload, (time.perf_counter() - start) * 1000


def approved(base, token, subject, kind):
    _, r, _ = call(base, token, "POST", "/api/v1/requests",
                   {"kind": kind, "subject_id": subject, "channel": "paper", "language": "ru"})
    rid = json.loads(r)["id"]
    call(base, token, "POST", f"/api/v1/requests/{rid}/verification/document", {"document": "id_card"})
    call(base, token, "POST", f"/api/v1/requests/{rid}/steps", {"step": "submit"})
    _, r, ms = call(base, token, "POST", f"/api/v1/requests/{rid}/steps", {"step": "approve"})
    action = json.loads(r)["actions"][0]
    if action["status"] != "done":
        raise SystemExit(f"{kind} for {subject}: {action}")
    return rid, ms


def summary(name, values):
    v = sorted(values)
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]
    print(f"{name:<28} n={len(v):<5} p50={pick(0.5):7.2f}  p90={pick(0.9):7.2f}  "
          f"p99={pick(0.99):7.2f}  max={v[-1]:7.2f} ms")


def main():
    base, token, ids_file = sys.argv[1], sys.argv[2], sys.argv[3]
    reads = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    ids = [l.strip() for l in open(ids_file) if l.strip()]
    build, download, destroy, sizes = [], [], [], []
    for subject in ids:
        for _ in range(reads):
            call(base, token, "GET", f"/api/v1/subjects/{subject}?purpose=education")
        rid, ms = approved(base, token, subject, "access_export")
        build.append(ms)
        _, z, ms = call(base, token, "GET", f"/api/v1/requests/{rid}/package")
        download.append(ms)
        sizes.append(len(z))
        _, ms = approved(base, token, subject, "destruction")
        destroy.append(ms)
    summary("approve access (build zip)", build)
    summary("download package", download)
    summary("approve destruction", destroy)
    print(f"package size: {min(sizes)}-{max(sizes)} bytes")


if __name__ == "__main__":
    main()
