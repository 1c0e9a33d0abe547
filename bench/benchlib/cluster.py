"""A throwaway PostgreSQL 15 cluster tuned like a server, run as the postgres OS user."""
from contextlib import closing
import os
import pwd
import resource
import shutil
import socket
import subprocess
import time

import psycopg2

# What a dedicated server of this size would run with; every value is written into the results.
SERVER_SETTINGS = {
    "shared_buffers": "2GB",
    "effective_cache_size": "8GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "wal_level": "logical",
    "wal_buffers": "64MB",
    "max_wal_size": "8GB",
    "min_wal_size": "1GB",
    "checkpoint_timeout": "15min",
    "checkpoint_completion_target": "0.9",
    "synchronous_commit": "on",
    "fsync": "on",
    "full_page_writes": "on",
    "max_connections": "200",
    "max_worker_processes": "32",
    "max_parallel_workers_per_gather": "2",
    "max_replication_slots": "40",
    "max_wal_senders": "40",
    "logical_decoding_work_mem": "64MB",
}
EXTENSION_SETTINGS = {
    "shared_preload_libraries": "pg_duckpipe",
    "duckpipe.flush_interval": "1s",
    "duckpipe.poll_interval": "200ms",
}
# pg_recvlogical is not part of the private tree (it only holds what the server needs).
SYSTEM_BIN = "/usr/lib/postgresql/15/bin"


def _as_postgres():
    if os.getuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid, children=False):
    """utime + stime of a process (with children: plus those of its reaped children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


class Cluster:
    def __init__(self, work, pg_bin):
        self.work = work
        self.pg_bin = pg_bin
        self.data = os.path.join(work, "pg")
        self.log = os.path.join(work, "pg.log")
        self.port = _free_port()
        self.host = work  # the Unix socket directory
        self.running = False

    def start(self):
        os.makedirs(self.work, exist_ok=True)
        os.chmod(self.work, 0o755)
        if os.getuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.work, pw.pw_uid, pw.pw_gid)
        subprocess.run(_as_postgres() + [f"{self.pg_bin}/initdb", "-D", self.data, "-U", "postgres",
                                         "--auth=trust", "--no-sync"], check=True, stdout=subprocess.DEVNULL)
        lines = [f"port = {self.port}", "listen_addresses = ''", f"unix_socket_directories = '{self.work}'",
                 "log_min_messages = log", "log_line_prefix = '%m [%p] '"]
        lines += [f"{k} = '{v}'" for k, v in {**SERVER_SETTINGS, **EXTENSION_SETTINGS}.items()]
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run(_as_postgres() + [f"{self.pg_bin}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "start"],
                       check=True, stdout=subprocess.DEVNULL)
        self.running = True

    def stop(self):
        if self.running:
            subprocess.run(_as_postgres() + [f"{self.pg_bin}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.running = False

    def conninfo(self, db="postgres"):
        return f"host={self.host} port={self.port} user=postgres dbname={db}"

    def connect(self, db="postgres", autocommit=True):
        conn = psycopg2.connect(self.conninfo(db))
        conn.autocommit = autocommit
        return conn

    def settings(self):
        names = list(SERVER_SETTINGS) + ["server_version", "max_parallel_workers", "wal_compression"]
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                        (names,))
            return dict(cur.fetchall())

    def create_db(self, name):
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')

    def drop_db(self, name):
        with closing(self.connect()) as conn, conn.cursor() as cur:
            for _ in range(50):  # a worker's temporary slot may outlive it by a moment
                cur.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                            "WHERE database = %s AND active_pid IS NOT NULL", (name,))
                cur.execute("SELECT slot_name FROM pg_replication_slots WHERE database = %s AND NOT active", (name,))
                for (slot,) in cur.fetchall():
                    try:
                        cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                    except psycopg2.Error:
                        pass
                cur.execute("SELECT count(*) FROM pg_replication_slots WHERE database = %s", (name,))
                if cur.fetchone()[0] == 0:
                    break
                time.sleep(0.2)
            cur.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,))
            oid = cur.fetchone()[0]
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        shutil.rmtree(os.path.join(self.data, "pg_duckpipe", "lake", str(oid)), ignore_errors=True)

    def cpu_seconds(self):
        """CPU seconds of the server so far: the postmaster, its live children and the ones it reaped
        (a backend's time moves to the postmaster's cutime/cstime when it exits)."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            pm = int(f.readline())
        total = proc_cpu_seconds(pm, children=True)
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    if ppid == pm:
                        total += proc_cpu_seconds(int(entry))
                except (OSError, ValueError, IndexError):
                    pass  # exited meanwhile
        return total

    def psql_copy_to_devnull(self, db, sql):
        """Seconds a `COPY ... TO STDOUT` into /dev/null takes through psql (the client a user has)."""
        t0 = time.monotonic()
        subprocess.run([f"{SYSTEM_BIN}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.conninfo(db), "-c", sql],
                       check=True, stdout=subprocess.DEVNULL)
        return time.monotonic() - t0

    def recvlogical_live(self, db, slot, options):
        """pg_recvlogical streaming `slot` into /dev/null until the returned process is terminated."""
        cmd = [f"{SYSTEM_BIN}/pg_recvlogical", "-d", self.conninfo(db), "--slot", slot, "--start",
               "-f", "/dev/null", "--no-loop", "-s", "1"]
        for o in options:
            cmd += ["-o", o]
        return subprocess.Popen(cmd, stderr=subprocess.DEVNULL)

    def recvlogical(self, db, slot, end_lsn, options):
        """Seconds pg_recvlogical takes to drain `slot` up to end_lsn into /dev/null, and its own CPU
        seconds (user + system: what reading the stream costs a consumer that does nothing with it)."""
        cmd = [f"{SYSTEM_BIN}/pg_recvlogical", "-d", self.conninfo(db), "--slot", slot, "--start", "-E", end_lsn,
               "-f", "/dev/null", "--no-loop"]
        for o in options:
            cmd += ["-o", o]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        secs = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return secs, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
