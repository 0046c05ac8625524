#!/usr/bin/env python3
# Restart of a large database: fills a fresh `lattice node` with N documents
# through the HTTP API (insertMany of 10,000), stops it (SIGTERM, then
# SIGKILL), starts it again and reports the time to the first API answer
# and to the first answer about the database. Usage:
#   go build -o /tmp/lattice ./cmd/lattice && scripts/restart-bench.py /tmp/lattice 200000
import json, os, subprocess, sys, time, urllib.request, signal, tempfile
bin, n = sys.argv[1], int(sys.argv[2])
d = tempfile.mkdtemp(prefix="lattice_restart_")
port = 5391
api = f"http://127.0.0.1:{port}"
def start():
    return subprocess.Popen([bin, "node", "--data", d, "--api", f"127.0.0.1:{port}", "--listen", "/ip4/127.0.0.1/tcp/0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def call(path, body=None, timeout=600):
    req = urllib.request.Request(api+path, data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")
def wait(f):
    t0 = time.monotonic()
    while True:
        try:
            f(); return time.monotonic()-t0
        except Exception:
            time.sleep(0.02)
p = start(); wait(lambda: call("/v1/id"))
addr = call("/v1/databases", {"name": "Big", "access": {"type": "open"}})["address"]
t0 = time.monotonic()
for i in range(0, n, 10000):
    docs = [{"_id": f"d{j:07d}", "title": f"todo {j}", "isDone": j % 2 == 0} for j in range(i, min(n, i+10000))]
    call("/v1/action/insertMany", {"database": addr, "collection": "todos", "documents": docs})
print(f"inserted {n} in {time.monotonic()-t0:.1f}s", flush=True)
cnt = lambda: call("/v1/action/countDocuments", {"database": addr, "collection": "todos", "filter": {}})
print("count before", cnt(), flush=True)
du = subprocess.run(["du", "-sh", d], capture_output=True, text=True).stdout.split()[0]
for how in ("SIGTERM", "SIGKILL"):
    p.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGKILL); p.wait()
    t0 = time.monotonic(); p = start()
    first = wait(lambda: call("/v1/id"))
    def counted():
        c = cnt()
        assert c["count"] == n, c
    full = first + wait(counted)
    rss = open(f"/proc/{p.pid}/status").read().split("VmHWM:")[1].split("\n")[0].strip()
    print(f"after {how}: first API answer {first:.2f}s, count of {n} answered {full:.2f}s, peak RSS {rss}, data {du}", flush=True)
p.send_signal(signal.SIGTERM); p.wait()
subprocess.run(["rm", "-rf", d])
