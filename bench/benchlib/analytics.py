"""Issue 11's performance figures: analytics from psql on the lake relations (whole query in DuckDB)
against the same queries on the heap tables (PostgreSQL with its parallel workers), in one run.

- analytics_aggregate_extension: `SELECT c, count(*), sum(total), avg(total) FROM o GROUP BY c`
  (target: heap time / lake time >= 10) and the querying backend's peak RSS (VmHWM) during it
  (target: <= duckpipe.query_memory_mb + 100 MB);
- analytics_join_extension: o JOIN cust JOIN region, a filter on each, GROUP BY region name
  (target ratio >= 5);
- analytics_limit10_extension: time to first row of `SELECT * FROM o_ducklake LIMIT 10` from psql,
  a new connection's first query and a warm one (target < 50 ms each)."""
from contextlib import closing
import re
import statistics
import subprocess
import threading
import time

from .cluster import SYSTEM_BIN
from .common import Scope, figures
from .measure import proc_status

O_DDL = "CREATE TABLE o (id bigint NOT NULL, c int, total numeric(12,2), note text, ts timestamptz)"
# Deterministic values (no clock_timestamp(): cheaper to generate, the same lake every run).
O_LOAD = ("INSERT INTO o SELECT g, g % 1000, (g % 100000) * 0.01, 'order ' || g, "
          "TIMESTAMPTZ '2026-01-01 00:00:00+00' + g * INTERVAL '1 second' FROM generate_series({lo}, {hi}) g")
DIMENSIONS = [
    "CREATE TABLE region (id int PRIMARY KEY, name text)",
    "INSERT INTO region SELECT g, 'r' || g FROM generate_series(0, 9) g",
    "CREATE TABLE cust (id int PRIMARY KEY, region int, tier int, name text)",
    "INSERT INTO cust SELECT g, g % 10, g % 4, 'customer ' || g FROM generate_series(0, 999) g",
]

QUERIES = {
    "aggregate": "SELECT c, count(*), sum(total), avg(total) FROM {o} GROUP BY c",
    "join": ("SELECT r.name, count(*), sum(o.total) FROM {o} o JOIN {cust} cu ON o.c = cu.id "
             "JOIN {region} r ON cu.region = r.id WHERE o.total > 10 AND cu.tier <> 3 AND r.name <> 'r0' "
             "GROUP BY r.name"),
    "limit10": "SELECT * FROM {o} LIMIT 10",
}
ANALYTICS = list(QUERIES)  # scenario names: analytics_<q>_extension
TARGETS = {"aggregate": 10.0, "join": 5.0}
LIMIT_TARGET_MS = 50.0
RSS_MARGIN_MB = 100
RUNS = 3  # best of


def lake(sql):
    return sql.format(o="o_ducklake", cust="cust_ducklake", region="region_ducklake")


def heap(sql):
    return sql.format(o="o", cust="cust", region="region")


def analytics_available(ctx):
    with closing(ctx.cluster.connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_settings WHERE name = 'duckpipe.duckdb_execution'")
        return cur.fetchone()[0] == 1


def load_orders(ctx, s, rows):
    """o with `rows` rows, loaded by two connections at once (each INSERT ... generate_series is
    one backend's CPU), its key added afterwards (one index build instead of 10M insertions)."""
    s.sql(O_DDL)
    chunk = 1000000
    ranges = [(lo, min(rows, lo + chunk - 1)) for lo in range(1, rows + 1, chunk)]
    done = [0]
    errors = []
    lock = threading.Lock()

    def worker(mine):
        try:
            with closing(ctx.cluster.connect(s.db)) as conn, conn.cursor() as cur:
                for lo, hi in mine:
                    cur.execute(O_LOAD.format(lo=lo, hi=hi))
                    with lock:
                        done[0] += hi - lo + 1
                        ctx.progress("analytics", f"loaded {done[0]:,} of {rows:,} rows")
        except Exception as e:  # reported by the caller
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(ranges[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    ctx.progress("analytics", "primary key, VACUUM ANALYZE")
    s.sql("ALTER TABLE o ADD PRIMARY KEY (id)")
    for ddl in DIMENSIONS:
        s.sql(ddl)
    s.sql("VACUUM ANALYZE o")  # all-visible pages: the heap's fastest scan, the fair baseline
    s.sql("VACUUM ANALYZE cust")
    s.sql("VACUUM ANALYZE region")


def explain(cur, sql):
    cur.execute("EXPLAIN " + sql)
    return "\n".join(r[0] for r in cur.fetchall())


def lake_path(plan):
    return "duckdb" if "Custom Scan (DuckDB Query)" in plan else "row"


def timed_runs(cur, sql, n):
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        cur.execute(sql)
        cur.fetchall()
        out.append(time.monotonic() - t0)
    return out


def notices_of(conn):
    """The first NOTICE about the DuckDB path (every run of the query repeats it)."""
    found = [n.strip() for n in conn.notices if "DuckDB" in n]
    del conn.notices[:]
    return found[0][:400] if found else None


def psql_timings(ctx, db, sql, n):
    """`\\timing` of `sql` run n times by one psql: the first is a new connection's first query. Also
    the psql process's wall time (start, connect, n queries, exit)."""
    args = [f"{SYSTEM_BIN}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", ctx.cluster.conninfo(db), "-c", "\\timing on"]
    for _ in range(n):
        args += ["-c", sql]
    t0 = time.monotonic()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    wall = time.monotonic() - t0
    ms = [float(x) for x in re.findall(r"^Time: ([0-9.]+) ms", out, re.M)]
    if len(ms) != n:
        raise RuntimeError(f"psql printed {len(ms)} timings for {n} queries: {out[-300:]}")
    return ms, wall * 1000


def analytics(ctx):
    """Returns {scenario: (figures, details)}."""
    rows = ctx.analytics_rows or ctx.size("analytics_rows")
    names = [f"analytics_{q}_extension" for q in ANALYTICS]
    available = analytics_available(ctx)
    if not available and not ctx.force_analytics:
        why = {"skipped": "the extension has no duckpipe.duckdb_execution setting (issue 11 not built)"}
        return {n: (figures(), why) for n in names}
    out = {}
    with Scope(ctx, "analytics_extension", "extension") as s:
        t0 = time.monotonic()
        ctx.progress("analytics", f"loading o ({rows:,} rows), cust (1,000) and region (10)")
        load_orders(ctx, s, rows)
        load_s = time.monotonic() - t0
        ctx.progress("analytics", f"loaded in {load_s:.0f}s; snapshot into the lake by the extension's worker")
        snap_s = s.start_and_snapshot(["public.o", "public.cust", "public.region"], ctx.timeout(rows))
        files, avg_mb = s.files()
        ctx.progress("analytics", f"snapshot in {snap_s:.0f}s ({files} files, {avg_mb or 0:.1f} MB avg)")
        settings = dict(s.sql("SELECT name, setting FROM pg_settings WHERE name IN ('max_parallel_workers_per_gather', "
                              "'max_parallel_workers', 'duckpipe.query_memory_mb', 'duckpipe.query_threads', "
                              "'duckpipe.duckdb_execution', 'work_mem', 'jit')"))
        common = {"rows": rows, "load_s": load_s, "snapshot_s": snap_s, "lake_files": files,
                  "lake_avg_file_mb": avg_mb, "best_of": RUNS,
                  "max_parallel_workers_per_gather": int(settings["max_parallel_workers_per_gather"]),
                  "query_memory_mb": int(settings["duckpipe.query_memory_mb"]),
                  "query_threads": int(settings["duckpipe.query_threads"]), "jit": settings.get("jit")}

        # The aggregate first, on a backend that has run nothing else: its VmHWM is this query's peak.
        for q in ["aggregate", "join"]:
            name = f"analytics_{q}_extension"
            msg_extra = ""
            with closing(ctx.cluster.connect(s.db)) as conn, conn.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                pid = cur.fetchone()[0]
                before = proc_status(pid)
                ctx.progress("analytics", f"{q}: lake, best of {RUNS}")
                lake_runs = timed_runs(cur, lake(QUERIES[q]), RUNS)
                after = proc_status(pid)
                lake_notice = notices_of(conn)
                plan = explain(cur, lake(QUERIES[q]))
                path = lake_path(plan)
                if q == "aggregate":
                    cur.execute("SELECT count(*) FROM o_ducklake")
                    lake_rows = cur.fetchone()[0]
                ctx.progress("analytics", f"{q}: heap (parallel workers), best of {RUNS}")
                heap_plan = explain(cur, heap(QUERIES[q]))
                planned = re.search(r"Workers Planned: (\d+)", heap_plan)
                heap_runs = timed_runs(cur, heap(QUERIES[q]), RUNS)
            lake_s, heap_s = min(lake_runs), min(heap_runs)
            r = heap_s / lake_s
            det = {"lake_s": lake_s, "heap_s": heap_s, "lake_runs_s": lake_runs, "heap_runs_s": heap_runs,
                   "target_ratio": TARGETS[q], "meets_target": r >= TARGETS[q], "lake_path": path,
                   "heap_workers_planned": int(planned.group(1)) if planned else 0, **common}
            if path != "duckdb":
                det["row_path_reason"] = lake_notice
                if q == "aggregate":
                    # What DuckDB does with the query it can run: the same without avg (exact
                    # numeric avg falls back to the row path until it runs in DuckDB).
                    ctx.progress("analytics", "aggregate without avg(total): lake and heap")
                    v = QUERIES[q].replace(", avg(total)", "")
                    with closing(ctx.cluster.connect(s.db)) as conn, conn.cursor() as cur:
                        cur.execute("SELECT pg_backend_pid()")
                        v_pid = cur.fetchone()[0]
                        v_lake = min(timed_runs(cur, lake(v), RUNS))
                        v_rss = proc_status(v_pid)
                        v_path = lake_path(explain(cur, lake(v)))
                        v_heap = min(timed_runs(cur, heap(v), RUNS))
                    det["without_avg"] = {"query": v, "lake_s": v_lake, "heap_s": v_heap, "ratio": v_heap / v_lake,
                                          "lake_path": v_path, "peak_rss_mb": v_rss[1] if v_rss else None}
                    msg_extra = f"; without avg: lake {v_lake * 1000:,.0f} ms ({v_path}), heap " \
                                f"{v_heap * 1000:,.0f} ms: {v_heap / v_lake:.1f}x"
            figs = {"rows_per_s": rows / lake_s, "baseline_rows_per_s": rows / heap_s, "ratio": r}
            msg = f"{q}: lake {lake_s * 1000:,.0f} ms ({path}), heap {heap_s * 1000:,.0f} ms: {r:.1f}x"
            msg += msg_extra
            if q == "aggregate":
                det["lake_rows"] = lake_rows
                det["lake_rows_match"] = lake_rows == rows
                if after:
                    rss_target = common["query_memory_mb"] + RSS_MARGIN_MB
                    figs["peak_rss_mb"] = after[1]
                    det.update({"peak_rss_is": "VmHWM of the backend that ran only the lake aggregate",
                                "rss_before_mb": before[0] if before else None, "rss_after_mb": after[0],
                                "rss_target_mb": rss_target, "meets_rss_target": after[1] <= rss_target})
                    msg += f"; backend peak RSS {after[1]:,.0f} MB (target <= {rss_target} MB)"
            ctx.progress("analytics", msg)
            out[name] = (figures(**figs), det)

        ctx.progress("analytics", "limit10: psql, a new connection's first query then warm ones")
        colds, warms, walls = [], [], []
        for _ in range(RUNS):
            ms, wall = psql_timings(ctx, s.db, lake(QUERIES["limit10"]), 6)
            colds.append(ms[0])
            warms += ms[1:]
            walls.append(wall)
        heap_ms, _ = psql_timings(ctx, s.db, heap(QUERIES["limit10"]), 6)
        with closing(ctx.cluster.connect(s.db)) as conn, conn.cursor() as cur:
            path = lake_path(explain(cur, lake(QUERIES["limit10"])))
        cold, warm = statistics.median(colds), statistics.median(warms)
        out["analytics_limit10_extension"] = (figures(), {
            "first_query_ms": cold, "warm_ms": warm, "first_query_runs_ms": colds, "warm_min_ms": min(warms),
            "warm_max_ms": max(warms), "psql_process_wall_ms": statistics.median(walls), "heap_warm_ms":
            statistics.median(heap_ms[1:]), "target_ms": LIMIT_TARGET_MS,
            "meets_target": cold < LIMIT_TARGET_MS and warm < LIMIT_TARGET_MS, "lake_path": path,
            "time_is": "psql \\timing (send to last row) of the query; first = a new connection's first query "
                       f"(median of {RUNS} connections), warm = median of the next 5 on each", **common})
        ctx.progress("analytics", f"limit10: first query {cold:.1f} ms, warm {warm:.1f} ms ({path}); "
                                  f"heap warm {statistics.median(heap_ms[1:]):.1f} ms")
    return out
