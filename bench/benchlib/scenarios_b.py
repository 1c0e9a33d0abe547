"""Scenarios 4-7 of issue 12 (many tables, one big transaction, steady rate, updates and deletes on a
large lake table). The analytics figures of issue 11 are analytics.py."""
import time

from .common import Scope, figures, ratio
from .measure import Sampler, insert_rows_sql, percentile, random_updates_deletes, \
    round_robin_changes, steady_inserts
from .runners import flush_phases, flush_times, phase_details, wait_for
from .scenarios_a import NARROW_DDL, NARROW_LOAD, STREAM_DDL, create_baseline_slots, lag_probe, load, \
    recvlogical_baselines


def many_tables(ctx, kind):
    name = f"many_tables_{kind}"
    n = ctx.size("many_tables")
    dur = ctx.size("many_seconds")
    tables = [f"t{i:03d}" for i in range(1, n + 1)]
    with Scope(ctx, name, kind) as s:
        for t in tables:
            s.sql(STREAM_DDL.format(t=t))
            s.sql(insert_rows_sql(t, 10))
        ctx.progress(name, f"adding {n} tables")
        s.start_and_snapshot([f"public.{t}" for t in tables], ctx.timeout(n * 1000))
        # Freshness of the stalest table: every table is written every period, so the oldest
        # newest-row among them is what a reader of all of them sees. Ten tables per lake query:
        # one query over all 100 crashes `duckpipe query` and runs duckpipe.query() out of memory.
        chunks = [tables[i:i + 10] for i in range(0, len(tables), 10)]
        queries = ["SELECT min(m) AS m, sum(n) AS n FROM (" + " UNION ALL ".join(
            f"SELECT epoch_us(max(ts)) AS m, count(*) AS n FROM public.{t}_ducklake" for t in chunk) + ")"
            for chunk in chunks]

        def lake_all():
            rows = [s.runner.lake_row(q) for q in queries]
            if any(r is None or r["m"] is None for r in rows):
                return None
            return {"m": min(int(float(r["m"])) for r in rows), "n": sum(int(float(r["n"])) for r in rows)}
        period = 0.5
        ctx.progress(name, f"a small transaction on each of {n} tables every {period}s for {dur}s")
        targets = [f"public.{t}_ducklake" for t in tables]
        if ctx.lag_via == "catalog":
            probe = lambda: lake_all() if s.runner.has_inlined_data(targets) else s.runner.catalog_newest(targets)  # noqa: E731
        else:
            probe = lake_all
        with Sampler(s.runner, probe, max(ctx.poll, 0.5)) as sampler:
            t0 = time.monotonic()
            w = round_robin_changes(ctx.cluster, s.db, tables, period, dur)
            want = sum(s.scalar(f"SELECT count(*) FROM {t}") for t in tables)
            src_min = s.scalar("SELECT min(m) FROM (" + " UNION ALL ".join(
                f"SELECT (extract(epoch FROM max(ts)) * 1000000)::bigint AS m FROM {t}" for t in tables) + ") x")
            sampler.workload_done(src_min)

            def caught_up():
                s.runner.check_alive()
                row = lake_all()
                return row is not None and row["n"] == want and row["m"] == int(src_min)
            wait_for("the tables to catch up", caught_up, ctx.timeout(w.rows), 0.25)
            total = time.monotonic() - t0
        p50, p99, mx = sampler.lag_ms()
        files, avg, shape = s.lake_shape(tables, total / 60.0)
        ctx.progress(name, f"{w.txns_per_s():,.0f} txn/s; lag p99 {p99 or 0:,.0f} ms; peak RSS "
                           f"{sampler.peak_rss:,.0f} MB; {files} files")
        return figures(rows_per_s=w.rows / total, lag_p50_ms=p50, lag_p99_ms=p99, lag_max_ms=mx,
                       peak_rss_mb=sampler.peak_rss, spilled_bytes=sampler.peak_temp, source_tps=w.txns_per_s(),
                       files=files, avg_file_mb=avg), {
            "tables": n, "seconds": dur, "changes": w.rows, "transactions": w.txns, **shape,
            "rows_per_s_is": "changes applied per second, start of writes to caught up",
            "lag_is": "newest commit of the stalest table", "lag_samples": len(sampler.lags),
            "lag_poll_ms_p50": percentile(sampler.poll_ms, 50), "peak_vmhwm_mb": sampler.peak_hwm}


def big_transaction(ctx, kind):
    name = f"big_transaction_{kind}"
    rows = ctx.size("big_txn_rows")
    with Scope(ctx, name, kind) as s:
        s.sql(STREAM_DDL.format(t="big"))
        s.start_and_snapshot(["public.big"], 60)
        s.sql("CREATE PUBLICATION bench_pub FOR TABLE big")
        slots = create_baseline_slots(s)
        ctx.progress(name, f"one transaction of {rows} rows")
        with Sampler(s.runner, None, 0.2) as sampler:
            t_start = time.monotonic()
            s.sql(insert_rows_sql("big", rows))
            t_commit = time.monotonic()
            end_lsn = s.scalar("SELECT pg_current_wal_lsn()::text")
            wait_for("the transaction in the lake",
                     lambda: s.runner.check_alive() or
                     int(s.runner.lake_row("SELECT count(*) AS n FROM public.big_ducklake")["n"]) == rows,
                     ctx.timeout(rows), 0.25)
            t_vis = time.monotonic()
        secs = t_vis - t_commit
        decoder_spill = s.runner.slot_spill()
        ctx.progress(name, "baseline: pg_recvlogical over the same WAL")
        base = recvlogical_baselines(ctx, s, slots, end_lsn, rows)
        best = max(base.values())
        files, avg = s.files()
        ctx.progress(name, f"commit to visible {secs:.1f}s ({rows / secs:,.0f} rows/s); peak RSS "
                           f"{sampler.peak_rss:,.0f} MB; spilled {sampler.peak_temp / 1048576:,.0f} MB")
        return figures(rows_per_s=rows / secs, baseline_rows_per_s=best, ratio=ratio(rows / secs, best),
                       lag_max_ms=secs * 1000, peak_rss_mb=sampler.peak_rss, spilled_bytes=sampler.peak_temp,
                       files=files, avg_file_mb=avg), {
            "rows": rows, "insert_s": t_commit - t_start, "commit_to_visible_s": secs,
            "start_to_visible_s": t_vis - t_start, **base, "decoder_spill_bytes": decoder_spill,
            "rows_per_s_is": "rows / (source commit to visible in the lake)",
            "lag_max_ms_is": "source commit to visible in the lake", "peak_vmhwm_mb": sampler.peak_hwm}


def steady(ctx, kind, flush_ms):
    name = f"steady_10k_{flush_ms}ms_{kind}"
    rate = 10000
    dur = ctx.size("steady_seconds")
    with Scope(ctx, name, kind) as s:
        s.runner.flush_ms = flush_ms
        s.sql(STREAM_DDL.format(t="steady"))
        s.start_and_snapshot(["public.steady"], 60)
        ctx.progress(name, f"{rate} rows/s for {dur}s, flush interval {flush_ms} ms")
        with Sampler(s.runner, lag_probe(ctx, s, "public.steady"), min(ctx.poll, flush_ms / 2000.0)) as sampler:
            w = steady_inserts(ctx.cluster, s.db, "steady", rate, dur)
            sampler.workload_done(s.source_state("steady")[1])
            s.wait_caught_up(["steady"], ctx.timeout(w.rows))
        ctx.series[name] = sampler.lags
        p50, p99, mx = sampler.lag_ms()
        files, avg, shape = s.lake_shape(["steady"], dur / 60.0)
        flushes = flush_times(s.runner.log_text())
        phases = phase_details(flush_phases(s.runner.log_text()))
        ctx.progress(name, f"{w.rows_per_s():,.0f} rows/s; lag p50 {p50 or 0:,.0f} p99 {p99 or 0:,.0f} ms; "
                           f"{files} files; flush commit p50 {phases['commit_p50_ms'] or 0:.1f} ms")
        return figures(rows_per_s=w.rows_per_s(), lag_p50_ms=p50, lag_p99_ms=p99, lag_max_ms=mx,
                       peak_rss_mb=sampler.peak_rss, spilled_bytes=sampler.peak_temp, source_tps=w.rows_per_s(),
                       files=files, avg_file_mb=avg), {
            "target_rows_per_s": rate, "seconds": dur, "flush_interval_ms": flush_ms, "rows": w.rows,
            "files_per_minute": files / (dur / 60.0), "lag_samples": len(sampler.lags), **shape,
            "background_compactions": s.runner.log_text().count("event=table.compacted"),
            "lag_poll_ms_p50": percentile(sampler.poll_ms, 50), "flushes": len(flushes),
            "flush_ms_p50": percentile([ms for _, ms in flushes], 50),
            "commit_p50_ms": phases["commit_p50_ms"], "commit_target_ms": 10,
            "commit_meets_target": None if phases["commit_p50_ms"] is None else phases["commit_p50_ms"] <= 10,
            **{f"flush_{k}": v for k, v in phases.items()},
            "tps_unit": "rows/s", "rows_per_s_is": "rows/s the source wrote (all of them reached the lake)"}


def updates_deletes(ctx, kind):
    name = f"updates_deletes_{kind}"
    stages = ctx.size("ud_stages")
    dur = ctx.size("ud_seconds")
    rate = 1000
    with Scope(ctx, name, kind) as s:
        ctx.progress(name, f"loading {stages[0]} rows")
        load(s, NARROW_DDL, NARROW_LOAD, "ud", stages[0])
        snap_s = s.start_and_snapshot(["public.ud"], ctx.timeout(stages[0]))
        per_stage = []
        loaded = stages[0]
        for rows in stages:
            if rows > loaded:
                ctx.progress(name, f"growing the table to {rows} rows")
                for lo in range(loaded + 1, rows + 1, 1000000):
                    s.sql(NARROW_LOAD.format(t="ud", lo=lo, hi=min(rows, lo + 999999)))
                loaded = rows
                s.wait_caught_up(["ud"], ctx.timeout(rows))
            # The lake's newest ts is fresh when the sampler starts: otherwise the first samples of a
            # stage measure the time since the load that grew the table ended (10-15 s at 5M and 10M
            # rows, which was the p99 of those stages), not the pipeline's lag.
            s.sql("UPDATE ud SET ts = clock_timestamp() WHERE id = (SELECT max(id) FROM ud)")
            s.wait_caught_up(["ud"], ctx.timeout(rows))
            before = len(s.runner.log_text().splitlines())
            ctx.progress(name, f"{rate} random-key updates+deletes/s for {dur}s on {rows} lake rows")
            with Sampler(s.runner, lag_probe(ctx, s, "public.ud"), ctx.poll) as sampler:
                w = random_updates_deletes(ctx.cluster, s.db, "ud", rows, rate, dur)
                sampler.workload_done(s.source_state("ud")[1])
                s.wait_caught_up(["ud"], ctx.timeout(w.rows * 10))
            stage_log = "\n".join(s.runner.log_text().splitlines()[before:])
            flushes = [ms for _, ms in flush_times(stage_log)]
            phases = phase_details(flush_phases(stage_log))
            p50, p99, mx = sampler.lag_ms()
            per_stage.append({"lake_rows": rows, "changes_per_s": w.rows_per_s(), "lag_p50_ms": p50,
                              "lag_p99_ms": p99, "lag_max_ms": mx, "flushes": len(flushes),
                              "flush_ms_p50": percentile(flushes, 50), "flush_ms_max": max(flushes, default=None),
                              **{f"flush_{k}": v for k, v in phases.items()},
                              "peak_rss_mb": sampler.peak_rss, "spilled_bytes": sampler.peak_temp})
            ctx.progress(name, f"{rows} rows: lag p99 {p99 or 0:,.0f} ms, flush p50 "
                               f"{percentile(flushes, 50) or 0:,.0f} ms")
        last = per_stage[-1]
        files, avg, shape = s.lake_shape(["ud"], len(stages) * dur / 60.0)
        return figures(rows_per_s=last["changes_per_s"], lag_p50_ms=last["lag_p50_ms"], lag_p99_ms=last["lag_p99_ms"],
                       lag_max_ms=last["lag_max_ms"], peak_rss_mb=max(x["peak_rss_mb"] for x in per_stage),
                       spilled_bytes=max(x["spilled_bytes"] for x in per_stage), source_tps=last["changes_per_s"],
                       files=files, avg_file_mb=avg), {
            "stages": per_stage, "seconds_per_stage": dur, "snapshot_s": snap_s, **shape,
            "rows_per_s_is": "changes/s the source wrote at the largest size (all reached the lake)",
            "tps_unit": "changed rows/s (half updates, half deletes)"}

