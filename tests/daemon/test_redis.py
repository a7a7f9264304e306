#!/usr/bin/env python3
"""test_redis.py: a real daemon: redis-server on a loopback port under the
agent, a client speaking RESP without pause while `leakagent snapshot` is
taken four times (full, delta, full, delta). Every command is answered
correctly throughout, every snapshot is complete and symbolizes down to
redis's own allocator wrappers (zmalloc...), the delta shows growth in
redis's stacks (the client keeps adding keys), and after SHUTDOWN NOSAVE
redis exits 0 with a complete exit report. No timing is asserted."""
import os
import shutil
import socket
import subprocess
import threading
import time

from ladaemon import AGENT, check, done, json_report, schema_valid, temp_dir
import laraw

REDIS = shutil.which("redis-server")
if not REDIS:
    print("redis-server is not installed (scripts/setup.sh installs it)")
    raise SystemExit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(*args):
    out = f"*{len(args)}\r\n"
    for a in args:
        a = str(a)
        out += f"${len(a.encode())}\r\n{a}\r\n"
    return out.encode()


class Conn:
    def __init__(self, port, timeout=120):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode()

    def reply(self):
        head = self.line()
        if head[0] == "$":
            n = int(head[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed")
                self.buf += chunk
            data, self.buf = self.buf[:n].decode(), self.buf[n + 2:]
            return data
        if head[0] == ":":
            return int(head[1:])
        return head  # +OK, -ERR ...

    def call(self, *args):
        self.s.sendall(resp(*args))
        return self.reply()


def start_redis(dirname):
    """redis-server on a free port (retried if another process took it)."""
    for _ in range(5):
        port = free_port()
        env = dict(os.environ, LD_PRELOAD=AGENT, MALLOC_PERTURB_="0",
                   LEAKAGENT_OPTIONS=f"output={dirname}/%e.%p.%n.raw")
        log = open(os.path.join(dirname, "redis.log"), "w")
        p = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--daemonize", "no", "--dir", dirname],
                             stdout=log, stderr=subprocess.STDOUT, env=env, cwd=dirname)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            try:
                c = Conn(port, timeout=5)
                if c.call("PING") == "+PONG":
                    return p, port, c
            except OSError:
                time.sleep(0.2)
        p.kill()
        p.wait()
    raise SystemExit("redis-server did not start: " + open(os.path.join(dirname, "redis.log")).read())


class Client(threading.Thread):
    """Sends commands until stopped; every reply is checked."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.c = Conn(port)
        self.n = 0
        self.errors = []
        self.stop = threading.Event()

    def run(self):
        i = 0
        try:
            while not self.stop.is_set():
                i += 1
                val = f"v{i}-" + "x" * (i % 500)
                got = [self.c.call("SET", f"key:{i}", val), self.c.call("GET", f"key:{i}"),
                       self.c.call("RPUSH", "list", val), self.c.call("INCR", "counter")]
                want = ["+OK", val, i, i]
                if got != want:
                    self.errors.append(f"command {i}: {got[:1]}... != {want[:1]}...")
                    return
                if i % 10 == 0 and self.c.call("DEL", f"key:{i - 5}") != 1:
                    self.errors.append(f"DEL key:{i - 5} failed")
                    return
                self.n = i
        except OSError as e:
            self.errors.append(f"after {self.n} rounds: {e!r}")


def wait_rounds(client, more):
    target = client.n + more
    deadline = time.monotonic() + 300
    while client.n < target and not client.errors and time.monotonic() < deadline:
        time.sleep(0.05)
    return client.n >= target


def redis_functions(p):
    """functions of redis-server's own module in the stacks of a process"""
    fns = set()
    for entry in p["records"] + p["growth"]:
        for f in entry["stack"]:
            if f["module"] and os.path.realpath(f["module"]) == os.path.realpath(REDIS) and f["function"]:
                fns.add(f["function"])
    return fns


tmp = temp_dir("la-redis-")
server, port, ctl = start_redis(tmp)
client = Client(port)
client.start()
check(wait_rounds(client, 100), f"the client runs ({client.n} rounds)", "; ".join(client.errors))

seqs = []
for n, delta in enumerate([False, True, False, True], start=1):
    args = ["snapshot", str(server.pid), "--show-leak-kinds=all", "--wait=300"]
    rc, doc, err = json_report(args + (["--delta"] if delta else []))
    what = f"snapshot {n} ({'delta' if delta else 'full'})"
    p = doc["processes"][0] if doc and doc["processes"] else None
    check(rc == 0 and p is not None and schema_valid(doc), f"{what}: exit 0, valid json (rc {rc})", err)
    if not p:
        continue
    seqs.append(p["seq"])
    check(p["complete"] and p["pid"] == server.pid and p["trigger"] == ("delta" if delta else "signal"),
          f"{what}: complete, trigger {p['trigger']}")
    check(laraw.parse(p["source"]).complete, f"{what}: the raw report ends with its e line")
    fns = redis_functions(p)
    check(any(f.startswith("zmalloc") or f.startswith("ztrymalloc") for f in fns)
          and "main" in fns, f"{what}: stacks reach redis-server's zmalloc and main",
          ", ".join(sorted(fns))[:2000])
    if delta:
        check(p["delta"] is not None and any(g["bytes"] > 0 for g in p["growth"]),
              f"{what}: a delta with growth", str(p["delta"]))
        grew = {f["function"] for g in p["growth"] if g["bytes"] > 0 for f in g["stack"]}
        check("processCommand" in grew or "call" in grew,
              f"{what}: growth under redis's command processing", ", ".join(sorted(map(str, grew)))[:2000])
    check(wait_rounds(client, 50), f"{what}: the client goes on ({client.n} rounds)",
          "; ".join(client.errors))
check(seqs == [1, 2, 3, 4], f"report numbers {seqs}")

client.stop.set()
client.join(300)
check(not client.errors and client.n >= 300, f"{client.n} rounds, every reply right",
      "; ".join(client.errors))
check(ctl.call("DBSIZE") > 0, "redis still holds the keys")
try:
    ctl.call("SHUTDOWN", "NOSAVE")
except (OSError, ConnectionError):
    pass  # the server closes the connection as it goes
try:
    status = server.wait(300)
except subprocess.TimeoutExpired:
    server.kill()
    status = server.wait()
check(status == 0, f"redis-server exits 0 after SHUTDOWN NOSAVE ({status})",
      open(os.path.join(tmp, "redis.log")).read())
raws = sorted((laraw.parse(os.path.join(tmp, f)) for f in os.listdir(tmp) if f.endswith(".raw")),
              key=lambda r: r.seq)
check([r.trigger for r in raws] == ["signal", "delta", "signal", "delta", "exit"]
      and all(r.complete for r in raws), f"five complete reports: {[r.trigger for r in raws]}")
if raws:
    rc, doc, err = json_report(["report", "--show-leak-kinds=all", raws[-1].path])
    check(rc == 0 and doc and doc["processes"][0]["complete"]
          and any(f.startswith("zmalloc") for f in redis_functions(doc["processes"][0])),
          f"the exit report symbolizes (rc {rc})", err)
done()
