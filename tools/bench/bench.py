#!/usr/bin/env python3
"""Whole-process benchmark of mailconf (issue 8). Run through tools/bench/run.sh.

For each case it runs a command REPS times, each time after an untimed
setup step (remove the target directory, `sync` so that write-back of an
earlier run does not land in this one), and records per run:

  wall   elapsed time from spawn to exit (time.perf_counter)
  cpu    user + system time of the child (wait4 rusage)
  rss    peak resident set size of the child (wait4 ru_maxrss)

and reports the median of each. Cases:

  small server   fixtures/deployments/debian-submission/case.in:
                 generate into an empty directory (cold), generate again
                 (unchanged), check; baseline postconf -n + doveconf -n
  N domains      synthetic tree from gen-tree: cold, unchanged, check;
                 baselines postconf -n + doveconf -n on the same tree, and
                 cp -r of the finished output tree into an empty directory

Exit status 1 when any command failed, timed out, or wrote the wrong number
of files. Only the Python standard library is used.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print(f"FAIL: {msg}", file=sys.stderr, flush=True)


SPAWN = None  # path of the compiled spawn.c helper, when there is one


def run_once(argv, timeout, stdout_path=None, stderr_path=None):
    """Runs argv once; returns dict(wall, cpu, user, sys, rss_kb, rc, timed_out).

    Through the spawn.c helper when available (exact peak RSS); otherwise
    straight from Python, where ru_maxrss would include Python's own
    pre-exec image, so the RSS is reported as unknown (None)."""
    out = stdout_path or os.devnull
    err = stderr_path or os.devnull
    if SPAWN:
        # Own session, so that a timeout kills the helper and its child.
        p = subprocess.Popen(
            [SPAWN, out, err, "--", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            so, se = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            return {"timed_out": True}
        if p.returncode != 0:
            raise RuntimeError(f"spawn helper failed: {se.strip()}")
        wall_ns, user_us, sys_us, rss_kb, rc = (int(x) for x in so.split())
        return {
            "wall": wall_ns / 1e9,
            "cpu": (user_us + sys_us) / 1e6,
            "user": user_us / 1e6,
            "sys": sys_us / 1e6,
            "rss_kb": rss_kb,
            "rc": rc,
            "timed_out": False,
        }
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    killed = {"yes": False}
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)

    def kill():
        killed["yes"] = True
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, ru = os.wait4(pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    return {
        "wall": wall,
        "cpu": ru.ru_utime + ru.ru_stime,
        "user": ru.ru_utime,
        "sys": ru.ru_stime,
        "rss_kb": None,
        "rc": os.waitstatus_to_exitcode(status),
        "timed_out": killed["yes"],
    }


def sync():
    os.sync()


def cpu_busy(interval):
    """Share of all CPUs busy during `interval` seconds (from /proc/stat)."""

    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return idle, sum(v)

    try:
        i0, t0 = snap()
        time.sleep(interval)
        i1, t1 = snap()
    except OSError:
        return 0.0
    return 0.0 if t1 == t0 else 1.0 - (i1 - i0) / (t1 - t0)


def wait_quiet(max_wait, threshold=None):
    """Waits (up to max_wait seconds) until other processes leave at least
    one CPU idle (mailconf is single-threaded); returns the busy share seen
    last."""
    if max_wait <= 0:
        return 0.0
    if threshold is None:
        n = os.cpu_count() or 1
        threshold = max(0.25, 1.0 - 1.0 / n + 0.05)
    deadline = time.monotonic() + max_wait
    while True:
        b = cpu_busy(0.3)
        if b < threshold or time.monotonic() >= deadline:
            return b
        time.sleep(2)


def rmtree(path):
    if os.path.lexists(path):
        shutil.rmtree(path)


class Bench:
    def __init__(self, args):
        self.args = args
        self.results = []  # dicts: case, n, label, wall, cpu, rss_mb, reps, rc
        self.skip_larger = set()  # case labels that timed out

    def measure(self, case, n, label, argv, reps, setup=None, ok_rc=(0,), check=None):
        """Runs argv `reps` times; returns the summary dict (or None)."""
        if (case, label) in self.skip_larger:
            print(f"  {label:<28} skipped (timed out at a smaller N)", flush=True)
            return None
        runs = []
        tmp = tempfile.mkdtemp(prefix="mailconf-bench-io-")
        try:
            for i in range(reps):
                if setup:
                    setup()
                sync()
                busy = wait_quiet(self.args.quiet_wait)
                so = os.path.join(tmp, "stdout")
                se = os.path.join(tmp, "stderr")
                r = run_once(argv, self.args.timeout, so, se)
                r["busy"] = busy
                if r["timed_out"]:
                    fail(f"{case} N={n} {label}: timed out after {self.args.timeout} s: {' '.join(argv)}")
                    self.skip_larger.add((case, label))
                    break
                if r["rc"] not in ok_rc:
                    with open(se, errors="replace") as f:
                        tail = f.read()[-2000:]
                    fail(f"{case} N={n} {label}: exit {r['rc']} (expected {ok_rc}): {' '.join(argv)}\n{tail}")
                    break
                if i == 0 and check:
                    msg = check(so, se)
                    if msg:
                        fail(f"{case} N={n} {label}: {msg}")
                runs.append(r)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if not runs:
            return None
        s = {
            "case": case,
            "n": n,
            "label": label,
            "reps": len(runs),
            "wall": statistics.median(r["wall"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs),
            "user": statistics.median(r["user"] for r in runs),
            "sys": statistics.median(r["sys"] for r in runs),
            "rss_mb": None
            if any(r["rss_kb"] is None for r in runs)
            else statistics.median(r["rss_kb"] for r in runs) / 1024.0,
            "busy": max(r.get("busy", 0.0) for r in runs),
            "wall_min": min(r["wall"] for r in runs),
            "wall_max": max(r["wall"] for r in runs),
        }
        self.results.append(s)
        print(
            f"  {label:<28} wall {fmt_s(s['wall']):>9}  cpu {fmt_s(s['cpu']):>9}"
            f"  (user {fmt_s(s['user'])}, sys {fmt_s(s['sys'])})  rss {fmt_mb(s['rss_mb'])}"
            f"  [{len(runs)} runs, wall {fmt_s(s['wall_min'])}..{fmt_s(s['wall_max'])}"
            f"{'; other load up to %d%%' % (100 * s['busy']) if s['busy'] > 0.05 else ''}]",
            flush=True,
        )
        return s


def fmt_mb(mb):
    return "n/a" if mb is None else f"{mb:.1f} MB"


def fmt_s(sec):
    if sec < 1:
        return f"{sec * 1000:.1f} ms"
    return f"{sec:.2f} s"


def free_room(path):
    """Free bytes and free inodes of the file system holding path."""
    st = os.statvfs(path)
    return (st.f_bavail * st.f_frsize, st.f_favail)


def count_files(root):
    n = 0
    for _, _, files in os.walk(root):
        n += sum(1 for f in files if f == "config-v1.1.xml")
    return n


def combine(label, parts):
    """Sum of wall and cpu, max of rss: one baseline out of several commands."""
    parts = [p for p in parts if p]
    if not parts:
        return None
    return {
        "label": label,
        "wall": sum(p["wall"] for p in parts),
        "cpu": sum(p["cpu"] for p in parts),
        "rss_mb": None if any(p["rss_mb"] is None for p in parts) else max(p["rss_mb"] for p in parts),
    }


def ratio(a, b, key="wall"):
    if not a or not b or b[key] <= 0:
        return None
    return a[key] / b[key]


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}x"


def run_case(bench, case, n, root, work, reps, mailconf, expect_files):
    a = bench.args
    out = os.path.join(work, f"out-{case}")
    cp_dst = os.path.join(work, f"cp-{case}")
    rmtree(out)
    rmtree(cp_dst)
    postfix_dir = os.path.join(root, "etc/postfix")
    dovecot_conf = os.path.join(root, "etc/dovecot/dovecot.conf")
    row = {"case": case, "n": n}

    def files_ok(so, se):
        got = count_files(out)
        if expect_files is not None and got != expect_files:
            with open(se, errors="replace") as f:
                diag = f.read()[-1500:]
            return f"wrote {got} files, expected {expect_files}\n{diag}"
        return None

    def nothing_printed(so, se):
        if os.path.getsize(so) != 0:
            with open(so, errors="replace") as f:
                return f"a run with nothing changed printed changes: {f.read(300)!r}"
        return None

    def fresh_out():
        rmtree(out)
        os.makedirs(out)

    gen = [mailconf, "generate", "--root", root, "--out", out]
    chk = [mailconf, "check", "--root", root, "--out", out]
    room_before = free_room(work)
    row["cold"] = bench.measure(case, n, "generate (cold)", gen, reps, setup=fresh_out, check=files_ok)
    room_after = free_room(work)
    # What one output tree takes (bytes, inodes): cp -r needs as much again.
    needs = tuple(b - a for b, a in zip(room_before, room_after))
    if row["cold"] is None:
        # Without the output tree the other cases mean nothing.
        return row
    row["unchanged"] = bench.measure(case, n, "generate (unchanged)", gen, reps, check=nothing_printed)
    row["check"] = bench.measure(case, n, "check (unchanged)", chk, reps)
    if a.postconf:
        row["postconf"] = bench.measure(case, n, "postconf -n", [a.postconf, "-c", postfix_dir, "-n"], reps)
    if a.doveconf:
        row["doveconf"] = bench.measure(case, n, "doveconf -n", [a.doveconf, "-c", dovecot_conf, "-n"], reps)
    row["config_baseline"] = combine("postconf -n + doveconf -n", [row.get("postconf"), row.get("doveconf")])
    room = free_room(work)
    if all(have > 1.1 * need for have, need in zip(room, needs)):
        row["cp"] = bench.measure(
            case, n, "cp -r (output tree)", ["cp", "-r", out, cp_dst], reps, setup=lambda: rmtree(cp_dst)
        )
    else:
        print(
            f"  cp -r (output tree): not run: a copy needs {needs[0] / 1e9:.1f} GB and {needs[1]:,} inodes,"
            f" {work} has {room[0] / 1e9:.1f} GB and {room[1]:,} free",
            flush=True,
        )
        row["cp"] = None
    rmtree(cp_dst)
    if not a.keep:
        rmtree(out)
    b = row["config_baseline"]
    print(
        f"  ratios: cold/cp {fmt_ratio(ratio(row['cold'], row['cp']))}"
        f", unchanged/cold {fmt_ratio(ratio(row['unchanged'], row['cold']))}"
        f", check/cold {fmt_ratio(ratio(row['check'], row['cold']))}"
        f", cold/config {fmt_ratio(ratio(row['cold'], b))}"
        f", unchanged/config {fmt_ratio(ratio(row['unchanged'], b))}",
        flush=True,
    )
    return row


def machine():
    info = {"kernel": platform.release(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    info["ram_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        info["fs"] = subprocess.run(
            ["df", "-hT", "--output=source,fstype,size", "."], capture_output=True, text=True
        ).stdout.strip().splitlines()[-1]
    except (OSError, IndexError):
        pass
    info["load"] = os.getloadavg()
    return info


def summary(rows):
    print("\n## Summary (medians; ratios to the baselines measured in this run)\n")
    hdr = (
        "| case | N | cold wall | cold cpu | cold RSS | unchanged wall | unchanged RSS | check wall"
        " | postconf+doveconf wall | cp -r wall | cold / cp | unchanged / cold | check / cold"
        " | cold / config | unchanged / config |"
    )
    print(hdr)
    print("|" + " --- |" * (hdr.count("|") - 1))

    def w(x, key="wall"):
        return "—" if not x else fmt_s(x[key])

    def m(x):
        return "—" if not x else fmt_mb(x["rss_mb"])

    for r in rows:
        b = r.get("config_baseline")
        print(
            f"| {r['case']} | {r['n']:,} | {w(r.get('cold'))} | {w(r.get('cold'), 'cpu')} | {m(r.get('cold'))}"
            f" | {w(r.get('unchanged'))} | {m(r.get('unchanged'))} | {w(r.get('check'))}"
            f" | {w(b)} | {w(r.get('cp'))}"
            f" | {fmt_ratio(ratio(r.get('cold'), r.get('cp')))}"
            f" | {fmt_ratio(ratio(r.get('unchanged'), r.get('cold')))}"
            f" | {fmt_ratio(ratio(r.get('check'), r.get('cold')))}"
            f" | {fmt_ratio(ratio(r.get('cold'), b))}"
            f" | {fmt_ratio(ratio(r.get('unchanged'), b))} |"
        )
    synth = [r for r in rows if r["case"] != "small" and r.get("cold")]
    if len(synth) >= 2:
        print("\nGrowth (per domain, and its ratio to the smallest N >= 1,000; 1.00x = linear):")
        ref = next((r for r in synth if r["n"] >= 1000), None)
        for r in synth:
            if ref is None or r["n"] < 1000:
                continue
            parts = []
            for k in ("cold", "unchanged", "check"):
                if r.get(k) and ref.get(k):
                    for key, unit in (("wall", "wall"), ("cpu", "cpu")):
                        per = r[k][key] / r["n"]
                        per_ref = ref[k][key] / ref["n"]
                        parts.append(f"{k} {unit} {per * 1e6:.0f} us/domain ({per / per_ref:.2f}x)")
                    if r[k]["rss_mb"] is not None:
                        parts.append(f"{k} RSS {r[k]['rss_mb']:.1f} MB")
            print(f"  N={r['n']:,}: " + ", ".join(parts))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mailconf", required=True)
    p.add_argument("--gen-tree", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--small-root", required=True)
    p.add_argument("--ns", default="1,1000,10000,100000")
    p.add_argument("--max-n", type=int, default=None)
    p.add_argument("--reps", type=int, default=None, help="runs per measurement (default 7, 5 at 100,000, 3 above)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    p.add_argument("--postconf", default=shutil.which("postconf") or shutil.which("/usr/sbin/postconf"))
    p.add_argument("--doveconf", default=shutil.which("doveconf"))
    p.add_argument("--json", default=None)
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each run, wait up to this many seconds for the CPUs to be idle (shared machines)",
    )
    p.add_argument("--spawn", default=None, help="compiled tools/bench/spawn.c (exact peak RSS)")
    p.add_argument("--keep", action="store_true", help="keep the trees and output trees")
    a = p.parse_args()

    global SPAWN
    SPAWN = a.spawn
    if not SPAWN:
        print("note: no --spawn helper: peak RSS is not measured", file=sys.stderr)
    ns = [int(x.replace("_", "")) for x in a.ns.split(",") if x.strip()]
    if a.max_n is not None:
        ns = [n for n in ns if n <= a.max_n]
    os.makedirs(a.work, exist_ok=True)
    a.work = os.path.abspath(a.work)

    def reps_for(n):
        if a.reps:
            return a.reps
        return 7 if n < 100_000 else 5 if n <= 100_000 else 3

    if not a.postconf:
        print("note: postconf not found, no postconf baseline", file=sys.stderr)
    if not a.doveconf:
        print("note: doveconf not found, no doveconf baseline", file=sys.stderr)

    info = machine()
    print(f"machine: {json.dumps(info)}")
    print(f"mailconf: {a.mailconf}")
    bench = Bench(a)
    rows = []

    print("\n# small server (fixtures/deployments/debian-submission/case.in)", flush=True)
    rows.append(
        run_case(bench, "small", 1, os.path.abspath(a.small_root), a.work, a.reps or 11, a.mailconf, 2)
    )

    for n in ns:
        root = os.path.join(a.work, f"tree-{n}")
        rmtree(root)
        t0 = time.perf_counter()
        r = subprocess.run([a.gen_tree, "--domains", str(n), "--out", root])
        if r.returncode != 0:
            fail(f"gen-tree --domains {n} failed")
            continue
        print(f"\n# N = {n:,} domains (tree generated in {fmt_s(time.perf_counter() - t0)})", flush=True)
        rows.append(run_case(bench, f"N={n}", n, root, a.work, reps_for(n), a.mailconf, 2 * n))
        if not a.keep:
            rmtree(root)

    summary(rows)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "rows": rows, "failures": FAILURES}, f, indent=1)
        print(f"\nresults: {a.json}")
    if FAILURES:
        print(f"\n{len(FAILURES)} failure(s):", file=sys.stderr)
        for m in FAILURES:
            print(f"  - {m.splitlines()[0]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
