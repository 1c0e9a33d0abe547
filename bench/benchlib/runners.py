"""The two ways to run pg_duckpipe that every scenario measures: the daemon and the extension's worker.

Both copy tables of one database (the scenario's own) into a lake whose catalog is that database
(schema `ducklake`), and both are read back the way a user would: `duckpipe query` for the daemon,
`duckpipe.query()` in a backend for the extension."""
import csv
import io
import json
import os
import re
import signal
import subprocess
import time

import psycopg2

from .measure import percentile

FLUSH_DONE = re.compile(r"event=flush\.done .*?rows=(\d+).*? ms=(\d+)")
FLUSH_PHASES = ("load", "compact", "write", "commit")
FLUSH_PHASE = {p: re.compile(rf" {p}_ms=([\d.]+)") for p in FLUSH_PHASES}


def wait_for(what, cond, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def group_alive(pgid):
    """Whether a process of group `pgid` still runs. A zombie does not count: a daemon orphaned by its
    wrapper is reaped by PID 1, which in some containers never does."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class Runner:
    kind = "?"
    # Settings stored globally before each scenario's tables are added (bench.py --setting).
    stored_settings = {}

    def __init__(self, cluster, db, work):
        self.cluster = cluster
        self.db = db
        self.work = work
        self.flush_ms = 1000
        self.conn = cluster.connect(db)

    def sql(self, query, args=None):
        with self.conn.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall() if cur.description else None

    def scalar(self, query, args=None):
        rows = self.sql(query, args)
        return rows[0][0] if rows else None

    def states(self):
        return dict(self.sql("SELECT source_schema || '.' || source_table, state FROM duckpipe.table_mappings"))

    def wait_streaming(self, n, timeout):
        def done():
            states = self.states()
            bad = [f"{t}: {s}" for t, s in states.items() if s in ("ERROR", "FAILED")]
            if bad:
                raise RuntimeError("tables failed: " + ", ".join(bad))
            return len([s for s in states.values() if s == "STREAMING"]) >= n
        wait_for(f"{n} tables streaming", done, timeout, 0.05)

    def has_inlined_data(self, tables):
        """Whether any of the lake tables keeps rows inlined in the catalog (which file statistics miss)."""
        if self.scalar("SELECT to_regclass('ducklake.ducklake_inlined_data_tables') IS NULL"):
            return False
        return bool(self.scalar(
            "SELECT count(*) FROM ducklake.ducklake_inlined_data_tables i JOIN ducklake.ducklake_table t "
            "USING (table_id) JOIN ducklake.ducklake_schema sc ON sc.schema_id = t.schema_id "
            "WHERE t.end_snapshot IS NULL AND sc.schema_name || '.' || t.table_name = ANY(%s)", (list(tables),)))

    def catalog_newest(self, tables, column="ts"):
        """From the lake catalog alone: the newest `column` value (epoch us) visible in each table's
        live data files (their per-file max statistics), the oldest of those over `tables`."""
        rows = self.sql(
            "SELECT t.table_name, (extract(epoch FROM max(s.max_value::timestamptz)) * 1000000)::bigint "
            "FROM ducklake.ducklake_table t JOIN ducklake.ducklake_schema sc ON sc.schema_id = t.schema_id "
            "AND sc.end_snapshot IS NULL JOIN ducklake.ducklake_column c ON c.table_id = t.table_id "
            "AND c.end_snapshot IS NULL AND c.column_name = %s JOIN ducklake.ducklake_data_file f "
            "ON f.table_id = t.table_id AND f.end_snapshot IS NULL JOIN ducklake.ducklake_file_column_stats s "
            "ON s.data_file_id = f.data_file_id AND s.column_id = c.column_id WHERE t.end_snapshot IS NULL "
            "AND sc.schema_name || '.' || t.table_name = ANY(%s) GROUP BY t.table_name", (column, list(tables)))
        if len(rows) < len(tables):
            return None
        return {"m": str(min(m for _, m in rows))}

    def lake_files(self):
        """(live data files, their mean size in MB) over every lake table, from the lake catalog."""
        n, avg = self.sql("SELECT count(*), avg(file_size_bytes) FROM ducklake.ducklake_data_file "
                          "WHERE end_snapshot IS NULL")[0]
        return int(n), (float(avg) / 1048576.0 if avg is not None else None)

    def small_files(self, below_mb=128):
        """Live data files below the compaction target size (compact_target_file_size_mb's default)."""
        return int(self.scalar("SELECT count(*) FROM ducklake.ducklake_data_file WHERE end_snapshot IS NULL "
                               "AND file_size_bytes < %s", (below_mb * 1048576,)))

    def slot_spill(self):
        """Bytes PostgreSQL's decoder spilled for this database's pipeline slots (pg_stat_replication_slots)."""
        v = self.scalar("SELECT sum(s.spill_bytes) FROM pg_stat_replication_slots s JOIN pg_replication_slots r "
                        "USING (slot_name) WHERE r.database = current_database() AND r.slot_name LIKE 'duckpipe%%'")
        return int(v) if v is not None else 0

    def close(self):
        self.stop()
        self.conn.close()


class DaemonRunner(Runner):
    kind = "daemon"

    def __init__(self, cluster, db, work, binary):
        super().__init__(cluster, db, work)
        self.binary = binary
        self.proc = None
        self.log_path = os.path.join(work, f"daemon-{db}.log")
        self.temp_dir = os.path.join(work, "tmp", db)
        os.makedirs(self.temp_dir, exist_ok=True)
        self.env = dict(os.environ, DUCKPIPE_SOURCE=cluster.conninfo(db),
                        DUCKPIPE_DATA_PATH=os.path.join(work, "lake", db) + "/", DUCKPIPE_TEMP_DIR=self.temp_dir)

    def cli(self, *args):
        return subprocess.run([self.binary, *args], env=self.env, check=True, capture_output=True, text=True).stdout

    def add_tables(self, tables):
        for key, value in self.stored_settings.items():
            self.cli("set-config", key, value)
        for t in tables:
            self.cli("add-table", t)

    def start(self):
        log = open(self.log_path, "a")
        # DUCKPIPE_BENCH_WRAP runs the daemon under a profiler, e.g. "heaptrack -o /tmp/daemon".
        wrap = os.environ.get("DUCKPIPE_BENCH_WRAP", "").split()
        # Its own process group: a stop reaches the daemon under a wrapper that does not pass signals on
        # (`perf stat` dies of the SIGTERM and left its daemon running against a removed cluster).
        self.proc = subprocess.Popen(wrap + [self.binary, "run", "--flush-interval", str(self.flush_ms)], env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            # Whatever the wrapper left in the group (the daemon itself, when the wrapper died first),
            # gone before a next start.
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            wait_for("the daemon's process group to exit", lambda: not group_alive(self.proc.pid), 60, 0.05)
        self.proc = None

    def check_alive(self):
        if self.proc and self.proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {self.proc.returncode}; see {self.log_path}")

    def pids(self):
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []

    def lake_row(self, query):
        out = self.cli("query", "--format", "csv", query)
        rows = list(csv.reader(io.StringIO(out)))
        return {k: (None if v == "" else v) for k, v in zip(rows[0], rows[1])} if len(rows) > 1 else None

    def compact(self, tables):
        """Scheduled maintenance, as an operator's cron runs it: `duckpipe compact` over every lake table."""
        return self.cli("compact")

    def temp_dirs(self):
        return [self.temp_dir]

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


class ExtensionRunner(Runner):
    kind = "extension"

    def __init__(self, cluster, db, work):
        super().__init__(cluster, db, work)
        self.sql("CREATE EXTENSION pg_duckpipe")
        self.worker_conn = cluster.connect(db)
        self.log_offset = os.path.getsize(cluster.log)

    def add_tables(self, tables):
        self.sql("SELECT duckpipe.set_config('flush_interval_ms', %s)", (str(self.flush_ms),))
        for key, value in self.stored_settings.items():
            self.sql("SELECT duckpipe.set_config(%s, %s)", (key, value))
        for t in tables:
            self.sql("SELECT duckpipe.add_table(%s)", (t,))

    def start(self):
        self.sql("SELECT duckpipe.set_config('flush_interval_ms', %s)", (str(self.flush_ms),))
        self.sql("SELECT duckpipe.start_worker()")
        wait_for("the worker to start", self.pids, 30, 0.05)

    def stop(self):
        try:
            self.sql("SELECT duckpipe.stop_worker()")
            wait_for("the worker to stop", lambda: not self.pids(), 60, 0.05)
        except psycopg2.Error:
            pass

    def check_alive(self):
        err = self.scalar("SELECT string_agg(source_table || ': ' || error_message, '; ') FROM duckpipe.status() "
                          "WHERE error_message IS NOT NULL AND error_message <> ''")
        if err:
            raise RuntimeError(f"the worker reports: {err}")

    def pids(self):
        with self.worker_conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE backend_type LIKE 'pg_duckpipe:%%' AND datname = %s",
                        (self.db,))
            return [r[0] for r in cur.fetchall()]

    def lake_row(self, query):
        with self.worker_conn.cursor() as cur:
            cur.execute("SELECT q::text FROM duckpipe.query(%s) q", (query,))
            row = cur.fetchone()
        if row is None:
            return None
        return {k: (None if v is None else str(v)) for k, v in json.loads(row[0]).items()}

    def compact(self, tables):
        """Scheduled maintenance, as an operator's cron runs it: duckpipe.compact_table() on each table."""
        for t in tables:
            self.sql("SELECT * FROM duckpipe.compact_table(%s)", (t,))

    def temp_dirs(self):
        return [os.path.join(self.cluster.data, "pg_duckpipe", "tmp")]

    def log_text(self):
        # Scenarios run one at a time: the server log's pg_duckpipe lines since this runner began
        # are its worker's (whose pid changes when it restarts).
        with open(self.cluster.log, errors="replace") as f:
            f.seek(self.log_offset)
            return "\n".join(line for line in f.read().splitlines() if "pg_duckpipe:" in line)

    def close(self):
        super().close()
        self.worker_conn.close()


def flush_times(log_text):
    """(rows, ms) of every `flush.done` line the runner logged."""
    return [(int(r), int(ms)) for r, ms in FLUSH_DONE.findall(log_text)]


def flush_phases(log_text):
    """{phase: [ms, ...]} over the `flush.done` lines with rows that carry phase times (load: appending the
    changes into the buffer; compact: last change per key; write: Parquet data and delete files; commit: the
    lake catalog transaction)."""
    out = {p: [] for p in FLUSH_PHASES}
    for line in log_text.splitlines():
        if "event=flush.done" not in line or " rows=0 " in line:
            continue
        found = {p: FLUSH_PHASE[p].search(line) for p in FLUSH_PHASES}
        if all(found.values()):
            for p, m in found.items():
                out[p].append(float(m.group(1)))
    return out


def phase_details(phases):
    """Median and p99 of each flush phase, for a scenario's details."""
    details = {}
    for p in FLUSH_PHASES:
        details[f"{p}_p50_ms"] = percentile(phases[p], 50)
        details[f"{p}_p99_ms"] = percentile(phases[p], 99)
    return details
