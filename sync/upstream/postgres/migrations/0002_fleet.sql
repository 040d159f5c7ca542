-- The fleet view (sync/API.md, "Operators"): each kiosk's office and its
-- last check-in.
--
-- The office is the agency's label for where a kiosk stands, named by the
-- enrollment token that enrolls it and kept with its device key. '' says
-- nothing: the tokens and kiosks of before this schema named none.
ALTER TABLE enroll_tokens ADD COLUMN office text NOT NULL DEFAULT '';
ALTER TABLE device_keys ADD COLUMN office text NOT NULL DEFAULT '';

-- last_at is the greatest at of the kiosk's records held (NULL: none), kept
-- by Append in the statement that keeps held_max and held_count, on the
-- row it holds locked: the fleet view reads a row per kiosk. The records
-- of before this schema fill it here, once.
--
-- Older programs keep working on this schema (min_reader stays): what they
-- store during a rolling upgrade leaves last_at behind until the kiosk's
-- next batch stored by a newer replica.
ALTER TABLE chains ADD COLUMN last_at bigint;
UPDATE chains c SET last_at = (SELECT MAX(at) FROM checkins WHERE kiosk_id = c.kiosk_id);
