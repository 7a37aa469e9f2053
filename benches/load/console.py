#!/usr/bin/env python3
"""Prepares the console's page timings: files requests through the API, then signs a DPO in.

Files REQUESTS paper requests of four kinds about distinct subjects, received 0-40 days ago (so
Today has requests overdue, due today and later), on 8 threads; then signs the DPO in (one-time
password, own password, second factor enrolled with a TOTP computed here), and the staff member
`staff` when given, and prints `cookie=<session cookie>`, `staff_cookie=<session cookie>`,
`request=<a request id>`, `subject=<a subject id>`.

Usage: console.py BASE_URL TOKEN IDS_FILE REQUESTS DPO_ONE_TIME_PASSWORD [STAFF_ONE_TIME_PASSWORD]
"""
import base64
import concurrent.futures
import datetime
import hashlib
import hmac
import http.cookiejar
import json
import random
import re
import struct
import sys
import time
import urllib.parse
import urllib.request

base, token, ids_file, count, otp = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
staff_otp = sys.argv[6] if len(sys.argv) > 6 else None
ids = [l.strip() for l in open(ids_file) if l.strip()][:count]
kinds = ["information", "access_export", "blocking", "complaint"]


def file(i_subject):
    i, subject = i_subject
    received = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=random.uniform(0, 40))
    body = json.dumps({"kind": kinds[i % 4], "subject_id": subject, "channel": "paper", "language": "ru",
                       "received_at": received.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
    req = urllib.request.Request(base + "/api/v1/requests", data=body, method="POST")
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())["id"]


start = time.time()
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    filed = list(pool.map(file, enumerate(ids), chunksize=64))
print(f"filed {len(filed)} requests in {time.time() - start:.0f} s", file=sys.stderr)

def sign_in(login, one_time, enrol):
    """Signs `login` in with its one-time password, sets its own, enrols a second factor when
    asked for one; returns its session cookie."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def post(path, fields):
        req = urllib.request.Request(base + path, data=urllib.parse.urlencode(fields).encode(), method="POST")
        req.add_header("Sec-Fetch-Site", "same-origin")
        with opener.open(req) as r:
            return r.read().decode()

    def get(path):
        with opener.open(base + path) as r:
            return r.read().decode()

    post("/console/sign-in", {"login": login, "password": one_time})
    page = get("/console/new-password")
    password = "Бенчмарк үшін, 2026!"
    post("/console/new-password", {"csrf": csrf(page), "password": password, "repeated": password})
    if enrol:
        page = get("/console/enrol")
        secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
        post("/console/enrol", {"csrf": csrf(page), "code": totp(secret, time.time())})
    return next(c.value for c in jar if c.name.endswith("derbes-session"))


def csrf(page):
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def totp(secret_b32, at):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    o = digest[-1] & 15
    return "%06d" % ((struct.unpack(">I", digest[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


print(f"cookie={sign_in('dpo', otp, True)}")
if staff_otp:
    print(f"staff_cookie={sign_in('staff', staff_otp, False)}")
print(f"request={filed[0]}")
print(f"subject={ids[0]}")
