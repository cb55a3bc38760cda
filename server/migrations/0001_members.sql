-- The member registry: every key that ever logged in, with its current role.
CREATE TABLE members (
    public_key TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('visitor', 'member', 'resident', 'founder')),
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE INDEX members_name ON members (name);

-- Every role change, who made it and when.
CREATE TABLE role_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    public_key TEXT NOT NULL REFERENCES members (public_key),
    role       TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    at         INTEGER NOT NULL
);
