-- The transport: which device key authenticates which kiosk, the one-time
-- enrollment tokens that pair them, and each kiosk's last chain head.

-- device_keys maps a device's Ed25519 public key, presented in its TLS
-- client certificate, to the kiosk it was enrolled as. Enrolling a kiosk
-- again replaces its key.
CREATE TABLE device_keys (
	kiosk_id    TEXT    PRIMARY KEY,
	public_key  BLOB    NOT NULL UNIQUE, -- raw Ed25519, 32 bytes
	enrolled_at INTEGER NOT NULL         -- Unix nanoseconds
) STRICT;

-- enroll_tokens holds only a hash of each token: a copy of this file
-- enrolls nobody.
CREATE TABLE enroll_tokens (
	token_hash BLOB    PRIMARY KEY, -- SHA-256 of the token
	kiosk_id   TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER              -- NULL until used, once
) STRICT, WITHOUT ROWID;

-- heads keeps each kiosk's last heartbeat: its signed chain head, when it
-- arrived and how it compared with the records held then.
CREATE TABLE heads (
	kiosk_id    TEXT    PRIMARY KEY,
	seq         INTEGER NOT NULL,
	hash        BLOB    NOT NULL,
	at          INTEGER NOT NULL, -- the kiosk's time of the head, Unix nanoseconds
	sig         BLOB    NOT NULL,
	received_at INTEGER NOT NULL, -- the server's clock
	state       TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
