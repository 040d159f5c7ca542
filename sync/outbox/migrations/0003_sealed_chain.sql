-- min_reader: 3
--
-- Records become sealed, hash-chained and signed (sync/wire), and the table
-- is rebuilt for commit speed: seq is the rowid, so a commit appends to one
-- B-tree and touches one page (two when the page splits); there is no other
-- index. Ids are unique by construction (UUIDv7 from one generator); pending
-- records are found by a rowid range scan from a low-water mark the store
-- keeps (in memory, and in kiosk_state); the kiosk id, the same for every record, is kept once in
-- kiosk_state. Programs of schema 2 cannot read this table: min_reader 3.
--
-- The person travels in sealed (HPKE to the upstream's key); dup is a keyed
-- hash for same-day duplicates, cleared once the day is over. Nothing else
-- is personal.
--
-- Rows of schema 2 keep their id, seq, time, clock, outcome, card and
-- upload state; they had no person data, so sealed stays empty, and the
-- store signs them into the chain (prev, hash, sig) when it next opens with
-- its device key. A schema-2 file holding records of two kiosk ids (never
-- deployed: development only) cannot be migrated: their seqs collide, this
-- migration fails and leaves the file as it was.
CREATE TABLE checkins_v3 (
	seq         INTEGER PRIMARY KEY, -- the kiosk's sequence number, from 1, without gaps; the rowid
	id          TEXT    NOT NULL, -- UUIDv7
	at          INTEGER NOT NULL, -- wall time, Unix nanoseconds
	clock       TEXT    NOT NULL, -- synced, unsynced, implausible
	outcome     TEXT    NOT NULL,
	issuer      TEXT    NOT NULL,
	serial      TEXT    NOT NULL,
	boot_id     TEXT    NOT NULL DEFAULT '',
	mono        INTEGER NOT NULL DEFAULT 0, -- nanoseconds since boot
	sealed      BLOB    NOT NULL DEFAULT x'',
	prev        BLOB, -- NULL only on rows of schema 2 not yet signed
	hash        BLOB,
	sig         BLOB,
	dup         BLOB, -- HMAC of issuer, A-number and local date, 16 bytes; NULL once the day is over
	uploaded_at INTEGER, -- Unix nanoseconds; NULL while pending
	quarantine  TEXT -- why the upstream rejected it; NULL unless it did (not pending then, never purged)
) STRICT;

INSERT INTO checkins_v3 (seq, id, at, clock, outcome, issuer, serial, uploaded_at)
	SELECT seq, id, at, clock, outcome, issuer, serial, uploaded_at FROM checkins ORDER BY n;

INSERT INTO kiosk_state (key, value)
	SELECT 'outbox.kiosk_id', kiosk_id FROM checkins ORDER BY n DESC LIMIT 1;
INSERT INTO kiosk_state (key, value)
	SELECT 'outbox.last_ack', CAST(MAX(uploaded_at) AS TEXT) FROM checkins WHERE uploaded_at IS NOT NULL
	HAVING COUNT(*) > 0;

DROP TABLE checkins;
ALTER TABLE checkins_v3 RENAME TO checkins;
