"""What every scenario shares: the figures of a result, a scenario's database and runner, waits."""
import time

from .measure import now
from .runners import DaemonRunner, ExtensionRunner, wait_for

FIELDS = ["rows_per_s", "baseline_rows_per_s", "ratio", "lag_p50_ms", "lag_p99_ms", "lag_max_ms", "peak_rss_mb",
          "spilled_bytes", "source_tps", "source_tps_without", "files", "avg_file_mb"]


def figures(**kw):
    unknown = set(kw) - set(FIELDS)
    assert not unknown, unknown
    out = {k: None for k in FIELDS}
    for k, v in kw.items():
        out[k] = None if v is None else (round(v, 3) if isinstance(v, float) else v)
    return out


def ratio(a, b):
    return a / b if a and b else None


class Scope:
    """A scenario's own database and runner (daemon or extension worker), dropped afterwards."""

    def __init__(self, ctx, name, kind):
        self.ctx = ctx
        self.db = name.replace("-", "_")[:60]
        self.kind = kind
        self.runner = None

    def __enter__(self):
        self.ctx.cluster.create_db(self.db)
        if self.kind == "daemon":
            self.runner = DaemonRunner(self.ctx.cluster, self.db, self.ctx.work, self.ctx.duckpipe)
        else:
            self.runner = ExtensionRunner(self.ctx.cluster, self.db, self.ctx.work)
        return self

    def __exit__(self, *exc):
        try:
            if self.runner:
                self.runner.close()
        finally:
            self.ctx.cluster.drop_db(self.db)

    def sql(self, query, args=None):
        return self.runner.sql(query, args)

    def scalar(self, query, args=None):
        return self.runner.scalar(query, args)

    def start_and_snapshot(self, tables, timeout):
        """Adds the tables and runs the runner until every one streams; seconds from the start."""
        r = self.runner
        t0 = time.monotonic()
        if r.kind == "daemon":
            r.add_tables(tables)
            r.start()
        else:
            r.add_tables(tables)  # add_table starts the worker
        r.wait_streaming(len(tables), timeout)
        return time.monotonic() - t0

    @staticmethod
    def qualified(table):
        return table if "." in table else f"public.{table}"

    def source_state(self, table):
        table = self.qualified(table)
        n, m = self.sql(f"SELECT count(*), (extract(epoch FROM max(ts)) * 1000000)::bigint FROM {table}")[0]
        return int(n), (int(m) if m is not None else None)

    def lake_state(self, table):
        table = self.qualified(table)
        row = self.runner.lake_row(f"SELECT count(*) AS n, epoch_us(max(ts)) AS m FROM {table}_ducklake")
        return (int(row["n"]), int(float(row["m"])) if row["m"] is not None else None) if row else None

    def wait_caught_up(self, tables, timeout):
        """Waits until each lake table has the source's row count and newest ts; seconds waited."""
        t0 = time.monotonic()
        want = {t: self.source_state(t) for t in tables}

        last = {}

        def done():
            self.runner.check_alive()
            for t in tables:
                try:
                    last[t] = self.lake_state(t)
                except Exception as e:  # e.g. no lake table yet
                    last[t] = str(e).strip()[-200:]
                if last[t] != want[t]:
                    return False
            return True
        try:
            wait_for(f"{', '.join(tables[:3])} to catch up", done, timeout, 0.1)
        except TimeoutError as e:
            raise TimeoutError(f"{e}: source (rows, newest ts) {want}, lake {last}") from None
        return time.monotonic() - t0

    def files(self):
        return self.runner.lake_files()

    def lake_shape(self, tables, minutes):
        """(files, mean MB, details) once compaction has run. The background compaction merges a table's
        small files every compact_interval_ms (60 s), so a scenario shorter than that ends before its
        first full merge; the lake shape the issue asks for is the one after compaction has run, so
        the scheduled form runs here (what a cron job of `duckpipe compact` does), timed."""
        before, avg_before = self.files()
        t0 = time.monotonic()
        for attempt in range(3):
            try:
                self.runner.compact([self.qualified(t) for t in tables])
                break
            except Exception as e:  # noqa: BLE001: the CLI's CalledProcessError or psycopg2's error
                # A flush's deletes committed first (Error(Conflict)): the next try sees them.
                text = f"{e} {getattr(e, 'stderr', '') or ''}"
                if attempt == 2 or "conflict" not in text:
                    raise
        secs = time.monotonic() - t0
        files, avg = self.files()
        small = self.runner.small_files()
        return files, avg, {
            "files_at_catchup": before, "avg_file_mb_at_catchup": avg_before, "compact_s": secs,
            "small_files_after_compaction": small,
            "small_files_per_table_per_minute": small / max(1, len(tables)) / max(1.0, minutes)}


def best_of(n, fn):
    return min(fn() for _ in range(n))


def elapsed_since(t0):
    return now() - t0
