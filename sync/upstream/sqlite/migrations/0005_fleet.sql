-- The fleet view (sync/API.md, "Operators"): each kiosk's office and its
-- last check-in.
--
-- The office is the agency's label for where a kiosk stands, named by the
-- enrollment token that enrolls it and kept with its device key. '' says
-- nothing: the tokens and kiosks of before this schema named none.
ALTER TABLE enroll_tokens ADD COLUMN office TEXT NOT NULL DEFAULT '';
ALTER TABLE device_keys ADD COLUMN office TEXT NOT NULL DEFAULT '';

-- last_checkins keeps, per kiosk with records, the greatest at of its
-- records held: Append raises it once per batch, in the batch's
-- transaction, so the fleet view reads a row per kiosk. (An index on
-- checkins (kiosk_id, at) would answer as cheaply, but costs an index
-- insert per record where this costs one row write per batch; with it,
-- BenchmarkDrain in sync/upload measured about 21,000 records/s against
-- about 30,000 without, on a loaded machine.) The records of before this
-- schema fill it here, once.
--
-- Older programs keep working on this schema (min_reader stays): what one
-- stores after a rollback leaves last_at behind until the kiosk's next
-- batch stored by a newer program.
CREATE TABLE last_checkins (
	kiosk_id TEXT    PRIMARY KEY,
	last_at  INTEGER NOT NULL -- Unix nanoseconds, the kiosk's clock
) STRICT, WITHOUT ROWID;
INSERT INTO last_checkins (kiosk_id, last_at) SELECT kiosk_id, MAX(at) FROM checkins GROUP BY kiosk_id;
