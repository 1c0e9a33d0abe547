-- pg_duckpipe metadata, version 1. Applied by the daemon (MetadataStore::Migrate) and by the
-- extension's install script alike; every statement must be safe inside one transaction.

CREATE TABLE duckpipe.sync_groups (
    name            text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]{0,39}$'),
    publication     text NOT NULL UNIQUE,
    slot_name       text NOT NULL UNIQUE,
    enabled         boolean NOT NULL DEFAULT true,
    -- NULL: the group's source is the database holding this metadata. Otherwise a libpq
    -- connection string of a remote source (stored as given; never logged unredacted).
    conninfo        text,
    -- What the group's slot has confirmed to the server: everything before it is durable in the lake.
    confirmed_lsn   pg_lsn,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE duckpipe.table_mappings (
    id              bigserial PRIMARY KEY,
    group_name      text NOT NULL REFERENCES duckpipe.sync_groups(name) ON UPDATE CASCADE,
    -- Changes are routed by OID, so renaming the source table or its schema keeps syncing.
    source_oid      oid NOT NULL,
    source_schema   text NOT NULL,
    source_table    text NOT NULL,
    target_schema   text NOT NULL,
    target_table    text NOT NULL,
    -- PENDING -> SNAPSHOT -> CATCHUP -> STREAMING; ERRORED (retried with backoff); DISABLED.
    state           text NOT NULL DEFAULT 'PENDING'
                    CHECK (state IN ('PENDING', 'SNAPSHOT', 'CATCHUP', 'STREAMING', 'ERRORED', 'DISABLED')),
    -- upsert: the lake table mirrors the source by key. append: every change is a row (changelog).
    sync_mode       text NOT NULL DEFAULT 'upsert' CHECK (sync_mode IN ('upsert', 'append')),
    copy_data       boolean NOT NULL DEFAULT true,
    -- Bumped by resync: work from an older generation is discarded.
    generation      integer NOT NULL DEFAULT 1,
    -- Transactions committed at or before this LSN are in the snapshot copy.
    snapshot_lsn    pg_lsn,
    -- Cached from duckpipe.table_progress (the truth, written in the lake's commit) for status.
    applied_lsn     pg_lsn,
    lake_table_id   bigint,
    rows_synced     bigint NOT NULL DEFAULT 0,
    error_message   text,
    error_at        timestamptz,
    retry_at        timestamptz,
    failure_count   integer NOT NULL DEFAULT 0,
    last_sync_at    timestamptz,
    -- Runtime figures a running pipeline refreshes every few seconds, for `status`.
    queued_changes  bigint NOT NULL DEFAULT 0,
    buffered_rows   bigint NOT NULL DEFAULT 0,
    oldest_pending_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_oid),
    UNIQUE (target_schema, target_table)
);
CREATE INDEX ON duckpipe.table_mappings (group_name);

-- Written in the same transaction as each DuckLake commit (in the lake catalog's database), which
-- is what makes apply exactly-once: after a crash a table skips every change at or before its
-- applied_lsn.
CREATE TABLE duckpipe.table_progress (
    mapping_id      bigint NOT NULL,
    generation      integer NOT NULL,
    applied_lsn     pg_lsn NOT NULL,
    rows_synced     bigint NOT NULL DEFAULT 0,
    lake_snapshot   bigint,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mapping_id)
);

-- Global settings that a running daemon or the extension reads (flush interval, limits, ...).
CREATE TABLE duckpipe.config (
    key             text PRIMARY KEY,
    value           text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Wakes running daemons when tables or groups change.
CREATE FUNCTION duckpipe.notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('duckpipe_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER sync_groups_changed AFTER INSERT OR UPDATE OR DELETE ON duckpipe.sync_groups
    FOR EACH STATEMENT EXECUTE FUNCTION duckpipe.notify_change();
CREATE TRIGGER table_mappings_changed AFTER INSERT OR DELETE ON duckpipe.table_mappings
    FOR EACH STATEMENT EXECUTE FUNCTION duckpipe.notify_change();
CREATE TRIGGER table_mappings_resync AFTER UPDATE OF generation, state ON duckpipe.table_mappings
    FOR EACH STATEMENT EXECUTE FUNCTION duckpipe.notify_change();
