-- kiosk_state holds small facts the kiosk must remember across restarts:
-- the last trusted time, the highest list sequence numbers accepted.
CREATE TABLE kiosk_state (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

-- How far a record's time can be trusted (kiosk.ClockState). Records from
-- before this column were taken on a clock not known to be synchronized.
ALTER TABLE checkins ADD COLUMN clock TEXT NOT NULL DEFAULT 'unsynced';
