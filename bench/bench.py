#!/usr/bin/python3
"""`make bench` / `make bench-quick`: every scenario of issue 12 against the daemon and the extension's
worker on one throwaway PostgreSQL 15 cluster, with their baselines in the same run. See README.md."""
import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import analytics as AN  # noqa: E402
from benchlib import scenarios_a as A  # noqa: E402
from benchlib import measure  # noqa: E402
from benchlib import scenarios_b as B  # noqa: E402
from benchlib.cluster import Cluster  # noqa: E402
from benchlib.common import figures  # noqa: E402
from benchlib.report import write_json, write_markdown, write_plot  # noqa: E402
from benchlib.runners import Runner  # noqa: E402

SIZES = {
    "full": {"narrow_rows": 10000000, "wide_rows": 1000000, "stream_seconds": 30, "stream_backlog_rows": 1000000,
             "stream_drain_rounds": 3,
             "sysbench_rows": 100000, "sysbench_seconds": 30, "many_tables": 100, "many_seconds": 60,
             "big_txn_rows": 5000000, "steady_seconds": 180, "ud_stages": [1000000, 5000000, 10000000],
             "ud_seconds": 30, "analytics_rows": 10000000},
    "quick": {"narrow_rows": 500000, "wide_rows": 50000, "stream_seconds": 5, "stream_backlog_rows": 50000,
              "stream_drain_rounds": 2,
              "sysbench_rows": 10000, "sysbench_seconds": 5, "many_tables": 20, "many_seconds": 5,
              "big_txn_rows": 250000, "steady_seconds": 15, "ud_stages": [50000, 100000, 200000],
              "ud_seconds": 5, "analytics_rows": 1000000},
}
RUNNERS = ["daemon", "extension"]


def scenario_list():
    out = []
    for shape in ["narrow", "wide"]:
        out += [(f"snapshot_{shape}_{k}", lambda c, k=k, s=shape: A.snapshot(c, k, s)) for k in RUNNERS]
    out += [(f"stream_insert_{k}", lambda c, k=k: A.stream_insert(c, k)) for k in RUNNERS]
    for test in ["oltp_insert", "oltp_read_write"]:
        for n in [1, 4]:
            out += [(f"sysbench_{test}_{n}t_{k}", lambda c, k=k, t=test, n=n: A.sysbench_scenario(c, k, t, n))
                    for k in RUNNERS]
    out += [(f"many_tables_{k}", lambda c, k=k: B.many_tables(c, k)) for k in RUNNERS]
    out += [(f"big_transaction_{k}", lambda c, k=k: B.big_transaction(c, k)) for k in RUNNERS]
    for flush in [200, 1000]:
        out += [(f"steady_10k_{flush}ms_{k}", lambda c, k=k, f=flush: B.steady(c, k, f)) for k in RUNNERS]
    out += [(f"updates_deletes_{k}", lambda c, k=k: B.updates_deletes(c, k)) for k in RUNNERS]
    return out


class Context:
    def __init__(self, args, work):
        self.mode = args.mode
        self.work = work
        self.duckpipe = os.path.realpath(os.path.join(args.build, "src/daemon/duckpipe"))
        self.cluster = Cluster(os.path.join(work, "cluster"), args.pg_bin)
        self.force_analytics = args.force_analytics
        self.analytics_rows = args.analytics_rows
        self.lag_via = args.lag_via
        self.poll = 0.2  # lag sampling period (s); each sample is one lake query
        self.series = {}
        self.t0 = time.monotonic()

    def size(self, key):
        return SIZES[self.mode][key]

    def timeout(self, rows):
        return 120 + rows / 5000.0  # a pipeline slower than 5k rows/s fails the scenario

    def progress(self, name, msg):
        print(f"[{time.monotonic() - self.t0:7.1f}s] {name}: {msg}", file=sys.stderr, flush=True)


def rounded(v):
    """Floats to 3 decimals all the way down (per-stage lists and the like)."""
    if isinstance(v, float):
        return round(v, 3)
    if isinstance(v, dict):
        return {k: rounded(x) for k, x in v.items()}
    if isinstance(v, list):
        return [rounded(x) for x in v]
    return v


def machine(ctx, args, duration, load_start):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    commit = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "status", "--porcelain",
                            "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    return {"date": args.date, "mode": ctx.mode, "commit": commit + ("-dirty" if dirty else ""),
            "hostname": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(), "cpu_model": cpu,
            "mem_gb": round(mem_kb / 1048576, 1), "loadavg_start": load_start,
            "loadavg_end": " ".join(f"{x:.2f}" for x in os.getloadavg()), "duration_s": round(duration, 1),
            "pg_settings": ctx.cluster.settings(), "sizes": SIZES[ctx.mode],
            "lag_via": ctx.lag_via, "stored_settings": dict(Runner.stored_settings),
            "runners": {"daemon": ctx.duckpipe, "extension": "pg_duckpipe background worker (private PG tree)"}}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", choices=["full", "quick"], default="full")
    ap.add_argument("--build", default="build")
    ap.add_argument("--pg-bin", required=True, help="server binaries with the extension installed")
    ap.add_argument("--date", required=True, help="the run's date (file names and results)")
    ap.add_argument("--only", default="", help="comma-separated name prefixes of the scenarios to run")
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    ap.add_argument("--force-analytics", action="store_true",
                    help="run the analytics queries even without duckpipe.duckdb_execution (tests the suite)")
    ap.add_argument("--analytics-rows", type=int, default=0,
                    help="rows of the analytics scenario's o table (default: the mode's analytics_rows)")
    ap.add_argument("--lag-via", choices=["catalog", "query"], default="catalog",
                    help="how the sampler reads the lake's newest commit time: the lake catalog's file "
                         "statistics (default) or a lake query (duckpipe query / duckpipe.query())")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, cluster)")
    ap.add_argument("--size", action="append", default=[], metavar="KEY=N",
                    help="overrides one of the mode's sizes (e.g. narrow_rows=2000000, or a list for a "
                         "list-valued one: ud_stages=1000000,5000000); repeatable")
    ap.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                    help="a stored setting (duckpipe set-config / duckpipe.set_config) for every scenario, "
                         "e.g. background_flush=1; repeatable, written in the results")
    args = ap.parse_args()
    for kv in args.setting:
        key, sep, value = kv.partition("=")
        if not sep or not key:
            ap.error(f"--setting {kv}: expected KEY=VALUE")
        Runner.stored_settings[key] = value
    for kv in args.size:
        key, _, value = kv.partition("=")
        parts = value.split(",")
        is_list = isinstance(SIZES[args.mode].get(key), list)
        if key not in SIZES[args.mode] or not all(p.isdigit() for p in parts) or (len(parts) > 1 and not is_list):
            ap.error(f"--size {kv}: expected one of {', '.join(SIZES[args.mode])} = a whole number "
                     "(comma-separated for a list)")
        SIZES[args.mode][key] = [int(p) for p in parts] if is_list else int(value)

    work = tempfile.mkdtemp(prefix=f"duckpipe-bench-{args.mode}-")
    os.chmod(work, 0o755)  # the server (user postgres) lives below it
    ctx = Context(args, work)
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    scenarios, details = {}, {}
    only = [p for p in args.only.split(",") if p]
    todo = [(n, fn) for n, fn in scenario_list() if not only or any(n.startswith(p) for p in only)]
    run_analytics = not only or any("analytics".startswith(p) or p.startswith("analytics") for p in only)
    ctx.progress("bench", f"{args.mode} run of {len(todo)} scenarios{' + analytics' if run_analytics else ''}; "
                          f"work dir {work}")
    try:
        ctx.cluster.start()
        for i, (name, fn) in enumerate(todo, 1):
            ctx.progress(name, f"scenario {i}/{len(todo)}")
            measure.PROGRESS = lambda msg, name=name: ctx.progress(name, msg)
            try:
                scenarios[name], details[name] = fn(ctx)
            except Exception as e:
                ctx.progress(name, f"FAILED: {str(e).strip()[:400]}")
                traceback.print_exc(limit=3)
                scenarios[name], details[name] = figures(), {"error": str(e).strip()[:400]}
        if run_analytics:
            try:
                for name, (figs, det) in AN.analytics(ctx).items():
                    scenarios[name], details[name] = figs, det
            except Exception as e:
                ctx.progress("analytics", f"FAILED: {e}")
                traceback.print_exc()
                for q in AN.ANALYTICS:
                    scenarios[f"analytics_{q}_extension"] = figures()
                    details[f"analytics_{q}_extension"] = {"error": str(e).strip()[:500]}
        doc = {"machine": machine(ctx, args, time.monotonic() - ctx.t0, load_start), "scenarios": scenarios,
               "details": rounded(details)}
    finally:
        ctx.cluster.stop()
    os.makedirs(args.results, exist_ok=True)
    # A run of some scenarios only says so in its name (it is not the whole suite's result).
    # Many of them would pass the file system's 255-byte name limit: then their number (the
    # results list them).
    only_part = "-".join(p.replace("_", "-") for p in only) if only else ""
    if len(only_part) > 120:
        only_part = f"{len(only)}-scenarios"
    stem = args.date + ("-quick-smoke" if args.mode == "quick" else "") + ("-only-" + only_part if only else "")
    plot = f"{stem}-lag.png"
    has_plot = write_plot(os.path.join(args.results, plot), ctx.series, work)
    write_json(os.path.join(args.results, f"{stem}.json"), doc)
    write_json(os.path.join(args.results, "latest.json"), doc)
    write_markdown(os.path.join(args.results, f"{stem}.md"), doc, plot if has_plot else None)
    failed = [n for n, d in details.items() if "error" in d]
    ctx.progress("bench", f"wrote {args.results}/{stem}.md, .json, latest.json" + (f", {plot}" if has_plot else ""))
    if args.keep:
        ctx.progress("bench", f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        ctx.progress("bench", "failed: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
