-- checkins is the outbox: one row per confirmed check-in, kept for good.
-- uploaded_at is NULL until the upstream has acknowledged the record.
-- No name, A-number or date of birth is stored.
CREATE TABLE checkins (
	n           INTEGER PRIMARY KEY, -- commit order
	id          TEXT    NOT NULL UNIQUE, -- UUIDv7
	kiosk_id    TEXT    NOT NULL,
	seq         INTEGER NOT NULL, -- per kiosk, from 1, without gaps
	at          INTEGER NOT NULL, -- wall time, Unix nanoseconds
	outcome     TEXT    NOT NULL,
	issuer      TEXT    NOT NULL,
	serial      TEXT    NOT NULL,
	uploaded_at INTEGER, -- Unix nanoseconds; NULL while pending
	UNIQUE (kiosk_id, seq)
) STRICT;

-- Pending rows (uploaded_at NULL) sort first, in commit order; the same
-- index answers MAX(uploaded_at).
CREATE INDEX checkins_upload ON checkins (uploaded_at, n);
