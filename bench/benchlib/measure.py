"""Sampling (lag as a user sees it, RSS, spill), statistics, baselines and source workloads."""
import os
import random
import threading
import time


def now():
    return time.time()


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def proc_status(pid):
    """VmRSS and VmHWM of a process in MB (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024.0, int(fields["VmHWM"].split()[0]) / 1024.0
    except (OSError, KeyError, ValueError):
        return None


# Set by the driver: called with a line every PROGRESS_EVERY seconds while a sampler runs, so a long
# catch-up shows where it is.
PROGRESS = None
PROGRESS_EVERY = 10.0


class Sampler:
    """Samples, on a thread, until stopped: the runner's RSS (from /proc, every process it has), the
    size of its DuckDB temp directories, and, with a lag query, the lake's freshness.

    The lag query (SQL, or a function returning a row) returns one column `m`: the newest source commit time (epoch microseconds) visible
    in the lake. A sample's lag is the wall time just before the query was sent minus m: how old
    the freshest data a reader sees is, as a user polling the lake measures it."""

    def __init__(self, runner, lag_query=None, interval=0.2):
        self.runner = runner
        self.lag_query = lag_query
        self.interval = interval
        self.t0 = now()
        self.lags = []  # (seconds since start, lag seconds)
        self.poll_ms = []
        self.peak_rss = 0.0
        self.peak_hwm = 0.0
        self.peak_temp = 0
        self.errors = []
        self.final_us = None
        self.caught_up = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def sample_once(self):
        for pid in self.runner.pids():
            st = proc_status(pid)
            if st:
                self.peak_rss = max(self.peak_rss, st[0])
                self.peak_hwm = max(self.peak_hwm, st[1])
        self.peak_temp = max(self.peak_temp, sum(dir_bytes(d) for d in self.runner.temp_dirs()))
        if self.lag_query:
            t = now()
            try:
                row = self.lag_query() if callable(self.lag_query) else self.runner.lake_row(self.lag_query)
            except Exception as e:  # a lake that has no file yet, a worker restarting: keep sampling
                self.errors.append(str(e).strip().splitlines()[-1] if str(e).strip() else repr(e))
                return
            self.poll_ms.append((now() - t) * 1000.0)
            if row and row.get("m") is not None and not self.caught_up:
                m = int(float(row["m"]))
                self.lags.append((t - self.t0, t - m / 1e6))
                # The lake shows the workload's last commit: it holds everything from here on, and
                # `t - m` would only count the time since the source stopped writing.
                self.caught_up = self.final_us is not None and m >= self.final_us

    def workload_done(self, final_us):
        """The workload wrote its last commit at `final_us` (epoch us, as the lag query's `m`): lag
        samples end with the first one that sees it in the lake."""
        self.final_us = int(final_us) if final_us is not None else None

    def _run(self):
        last = now()
        while not self._stop.is_set():
            start = now()
            self.sample_once()
            if PROGRESS and start - last >= PROGRESS_EVERY:
                last = start
                lag = f"lag {self.lags[-1][1] * 1000:,.0f} ms, " if self.lags else ""
                PROGRESS(f"  ... {start - self.t0:.0f}s: {lag}peak RSS {self.peak_rss:,.0f} MB, "
                         f"temp {self.peak_temp / 1048576:,.0f} MB")
            self._stop.wait(max(0.0, self.interval - (now() - start)))

    def lag_ms(self, since=0.0):
        values = [lag * 1000.0 for t, lag in self.lags if t >= since]
        return (percentile(values, 50), percentile(values, 99), max(values) if values else None)


class Workload:
    """A source workload on its own connections and threads; rows and transactions are counted."""

    def __init__(self, cluster, db, clients=1):
        self.conns = [cluster.connect(db) for _ in range(clients)]
        self.rows = 0
        self.txns = 0
        self.elapsed = None
        self._lock = threading.Lock()
        self.error = None

    def close(self):
        for c in self.conns:
            c.close()

    def _count(self, rows, txns=1):
        with self._lock:
            self.rows += rows
            self.txns += txns

    def run(self, duration, body):
        """Runs body(conn, client_index, deadline) on every connection at once for `duration` s."""
        deadline = time.monotonic() + duration
        t0 = time.monotonic()

        def wrap(i, c):
            try:
                body(c, i, deadline)
            except Exception as e:
                self.error = e

        threads = [threading.Thread(target=wrap, args=(i, c)) for i, c in enumerate(self.conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.elapsed = time.monotonic() - t0
        if self.error:
            raise self.error
        return self

    def rows_per_s(self):
        return self.rows / self.elapsed if self.elapsed else None

    def txns_per_s(self):
        return self.txns / self.elapsed if self.elapsed else None


def insert_rows_sql(table, n):
    return (f"INSERT INTO {table} (ts, v, note) SELECT clock_timestamp(), g, 'row ' || g || ' of a steady stream' "
            f"FROM generate_series(1, {int(n)}) g")


def max_rate_inserts(cluster, db, table, duration, clients=2, batch=100):
    """Insert-only at the highest rate the source sustains: `clients` sessions commit batches back to back."""
    w = Workload(cluster, db, clients)
    sql = insert_rows_sql(table, batch)

    def body(conn, i, deadline):
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute(sql)
                w._count(batch)
    try:
        return w.run(duration, body)
    finally:
        w.close()


def steady_inserts(cluster, db, table, rate, duration, tick=0.01):
    """`rate` rows/s as a batch every `tick` seconds, paced on a schedule (a late tick catches up)."""
    w = Workload(cluster, db, 1)
    per_tick = max(1, int(round(rate * tick)))
    sql = insert_rows_sql(table, per_tick)

    def body(conn, i, deadline):
        start = time.monotonic()
        k = 0
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute(sql)
                w._count(per_tick)
                k += 1
                delay = start + k * tick - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    try:
        return w.run(duration, body)
    finally:
        w.close()


def round_robin_changes(cluster, db, tables, period, duration, clients=4):
    """Every table gets one small transaction (an insert and an update) every `period` seconds."""
    w = Workload(cluster, db, clients)

    def body(conn, i, deadline):
        mine = tables[i::len(w.conns)]
        start = time.monotonic()
        k = 0
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                for t in mine:
                    cur.execute(f"WITH n AS ({insert_rows_sql(t, 1)} RETURNING id) "
                                f"UPDATE {t} SET v = v + 1 WHERE id = (SELECT max(id) - 1 FROM {t})")
                    w._count(2)
                k += 1
                delay = start + k * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    try:
        return w.run(duration, body)
    finally:
        w.close()


def random_updates_deletes(cluster, db, table, max_id, rate, duration, tick=0.05):
    """`rate` changes/s on random keys: half updates (which set ts to the commit time, so the lake's
    max(ts) shows the lag), half deletes; one transaction per tick (a commit per statement would
    bound the rate by fsync latency instead of the pipeline)."""
    w = Workload(cluster, db, 1)
    per_tick = max(2, int(round(rate * tick)))
    rng = random.Random(12)

    def body(conn, i, deadline):
        start = time.monotonic()
        k = 0
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                ids = [rng.randint(1, max_id) for _ in range(per_tick)]
                half = per_tick // 2
                cur.execute("BEGIN")
                cur.execute(f"UPDATE {table} SET ts = clock_timestamp() WHERE id = ANY(%s)", (ids[:half],))
                cur.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", (ids[half:],))
                cur.execute("COMMIT")
                w._count(per_tick, 1)
                k += 1
                delay = start + k * tick - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    try:
        return w.run(duration, body)
    finally:
        w.close()


class Heartbeat:
    """A row with the commit time into `bench_heartbeat` every `period` s (lag of a workload whose
    own tables carry no timestamp, e.g. sysbench's)."""

    def __init__(self, cluster, db, period=0.1):
        self.conn = cluster.connect(db)
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def create(conn):
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE bench_heartbeat (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                        "ts timestamptz NOT NULL, v int, note text)")

    def _run(self):
        with self.conn.cursor() as cur:
            while not self._stop.is_set():
                cur.execute(insert_rows_sql("bench_heartbeat", 1))
                self._stop.wait(self.period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.conn.close()
