-- pg_duckpipe metadata, version 2: the source columns a lake table mirrors as of applied_lsn.
-- Written in the same lake commit as the data and any schema change, so after a restart the
-- stream's first Relation message is compared with what the lake really holds (schema evolution
-- follows source DDL in order with the rows). A JSON array of
-- {"name": text, "attnum": int, "type_oid": int, "typmod": int, "key": bool}, in attnum order.
ALTER TABLE duckpipe.table_progress ADD COLUMN source_columns jsonb;
