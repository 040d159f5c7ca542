-- checkins holds every record the upstream accepted, once: by id and by
-- (kiosk_id, seq). Nothing is ever deleted, so a record sent again is
-- recognised as a duplicate however late it comes.
CREATE TABLE checkins (
	id          TEXT    PRIMARY KEY, -- UUIDv7 from the kiosk
	kiosk_id    TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	at          INTEGER NOT NULL, -- wall time at the kiosk, Unix nanoseconds
	outcome     TEXT    NOT NULL,
	issuer      TEXT    NOT NULL,
	serial      TEXT    NOT NULL,
	received_at INTEGER NOT NULL, -- Unix nanoseconds, the server's clock
	UNIQUE (kiosk_id, seq)
) STRICT, WITHOUT ROWID;
