-- How far the kiosk trusted its clock when it recorded the check-in:
-- synced, unsynced or implausible (see sync/API.md).
ALTER TABLE checkins ADD COLUMN clock TEXT NOT NULL DEFAULT 'unsynced';
