-- Records arrive sealed, hash-chained and signed (sync/wire). The upstream
-- keeps what it needs to verify them again (the sealed blob, prev, hash,
-- sig), the person it opened from the sealed blob, the forks it refused,
-- and how many records it rejected. Older programs keep working on this
-- schema (every new column has a default): min_reader stays.
ALTER TABLE checkins ADD COLUMN boot_id TEXT NOT NULL DEFAULT '';
ALTER TABLE checkins ADD COLUMN mono INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checkins ADD COLUMN sealed BLOB NOT NULL DEFAULT x'';
ALTER TABLE checkins ADD COLUMN prev BLOB NOT NULL DEFAULT x'';
ALTER TABLE checkins ADD COLUMN hash BLOB NOT NULL DEFAULT x''; -- x'': a record of before this schema
ALTER TABLE checkins ADD COLUMN sig BLOB NOT NULL DEFAULT x'';
-- The person, opened from sealed: the upstream legitimately holds it.
ALTER TABLE checkins ADD COLUMN a_number TEXT;
ALTER TABLE checkins ADD COLUMN family_name TEXT;
ALTER TABLE checkins ADD COLUMN given_name TEXT;
ALTER TABLE checkins ADD COLUMN date_of_birth TEXT;
ALTER TABLE checkins ADD COLUMN office TEXT;

-- forks holds each record refused because its (kiosk_id, seq) is held with
-- another hash, once: both signed by the kiosk's device key, so the
-- kiosk's history forked (a store restored from an old copy, a kiosk
-- cloned, a key stolen).
CREATE TABLE forks (
	kiosk_id    TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	hash        BLOB    NOT NULL, -- of the refused record
	id          TEXT    NOT NULL,
	held_hash   BLOB    NOT NULL,
	received_at INTEGER NOT NULL,
	PRIMARY KEY (kiosk_id, seq, hash)
) STRICT, WITHOUT ROWID;

-- rejections counts the records answered "rejected", by reason.
CREATE TABLE rejections (
	reason TEXT    PRIMARY KEY,
	n      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
