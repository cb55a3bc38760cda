-- Which history lines are pledges: a founder's edit made against an older version conflicts
-- only with edits made since, not with members' pledges. Lines from before count as edits.
ALTER TABLE parcel_history ADD COLUMN pledge INTEGER NOT NULL DEFAULT 0;
