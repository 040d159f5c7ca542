-- The upstream's store, as sync/upstream/sqlite keeps it after its
-- migration 0004, in one step: a PostgreSQL database starts here. Times
-- are Unix nanoseconds (bigint), as the SQLite store keeps them: a
-- kiosk's time is part of what its record's hash commits to, and
-- timestamptz keeps only microseconds.

-- checkins holds every record the upstream accepted, once: by id and by
-- (kiosk_id, seq). Nothing is ever deleted, so a record sent again is
-- recognised as a duplicate however late it comes, whichever replica it
-- reaches.
CREATE TABLE checkins (
	id            text   PRIMARY KEY, -- UUIDv7 from the kiosk
	kiosk_id      text   NOT NULL,
	seq           bigint NOT NULL,
	at            bigint NOT NULL, -- wall time at the kiosk
	clock         text   NOT NULL, -- synced, unsynced or implausible (sync/API.md)
	outcome       text   NOT NULL,
	issuer        text   NOT NULL,
	serial        text   NOT NULL,
	received_at   bigint NOT NULL, -- the server's clock
	boot_id       text   NOT NULL,
	mono          bigint NOT NULL,
	sealed        bytea  NOT NULL, -- what the kiosk signed, to verify it again
	prev          bytea  NOT NULL,
	hash          bytea  NOT NULL,
	sig           bytea  NOT NULL,
	-- The person, opened from sealed: the upstream legitimately holds it.
	a_number      text,
	family_name   text,
	given_name    text,
	date_of_birth text,
	office        text,
	UNIQUE (kiosk_id, seq)
);

-- chains keeps, per kiosk, what Append reads first and what Stats and the
-- heartbeats ask: the highest seq held and how many records are held. Its
-- row is also the kiosk's lock: Append takes it FOR UPDATE, so that the
-- batches of one kiosk are placed one after the other whichever replica
-- stores them, and each sees what the one before stored.
CREATE TABLE chains (
	kiosk_id   text   PRIMARY KEY,
	held_max   bigint NOT NULL DEFAULT 0,
	held_count bigint NOT NULL DEFAULT 0 -- held_max - held_count: the kiosk's gaps
);

-- forks holds each record refused because its (kiosk_id, seq) is held with
-- another hash, once: both signed by the kiosk's device key, so the
-- kiosk's history forked (a store restored from an old copy, a kiosk
-- cloned, a key stolen).
CREATE TABLE forks (
	kiosk_id    text   NOT NULL,
	seq         bigint NOT NULL,
	hash        bytea  NOT NULL, -- of the refused record
	id          text   NOT NULL,
	held_hash   bytea  NOT NULL,
	received_at bigint NOT NULL,
	PRIMARY KEY (kiosk_id, seq, hash)
);

-- rejections counts the records answered "rejected", by reason.
CREATE TABLE rejections (
	reason text   PRIMARY KEY,
	n      bigint NOT NULL
);

-- device_keys maps a device's Ed25519 public key, presented in its TLS
-- client certificate, to the kiosk it was enrolled as. Enrolling a kiosk
-- again replaces its key.
CREATE TABLE device_keys (
	kiosk_id    text   PRIMARY KEY,
	public_key  bytea  NOT NULL UNIQUE, -- raw Ed25519, 32 bytes
	enrolled_at bigint NOT NULL
);

-- enroll_tokens holds only a hash of each token: a copy of this database
-- enrolls nobody.
CREATE TABLE enroll_tokens (
	token_hash bytea  PRIMARY KEY, -- SHA-256 of the token
	kiosk_id   text   NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL,
	used_at    bigint              -- NULL until used, once
);

-- heads keeps each kiosk's last heartbeat: its signed chain head, when it
-- arrived and how it compared with the records held then.
CREATE TABLE heads (
	kiosk_id    text   PRIMARY KEY,
	seq         bigint NOT NULL,
	hash        bytea  NOT NULL,
	at          bigint NOT NULL, -- the kiosk's time of the head
	sig         bytea  NOT NULL,
	received_at bigint NOT NULL, -- the server's clock
	state       text   NOT NULL
);
