-- Governance: proposals and the signed ballots cast on them.
CREATE TABLE proposals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The draft as JSON (shared::governance::ProposalDraft); never changes after creation.
    draft       TEXT NOT NULL,
    -- Hex SHA-256 of the id and the draft, signed by every ballot.
    digest      TEXT NOT NULL,
    author      TEXT NOT NULL,
    author_key  TEXT,
    created_at  INTEGER NOT NULL,
    phase       TEXT NOT NULL CHECK (phase IN ('draft', 'open', 'closed')),
    opens_at    INTEGER,
    opened_at   INTEGER,
    closes_at   INTEGER,
    closed_at   INTEGER,
    -- The final count as JSON (shared::governance::tally::Tally), set once on closing.
    result      TEXT,
    revision    INTEGER NOT NULL DEFAULT 1,
    CHECK ((phase = 'closed') = (result IS NOT NULL)),
    CHECK ((phase = 'draft') = (opened_at IS NULL))
);
CREATE INDEX proposals_phase ON proposals (phase);

-- A closed proposal's result is final: the database itself refuses to change it.
CREATE TRIGGER proposals_result_is_final
BEFORE UPDATE ON proposals
WHEN OLD.phase = 'closed'
BEGIN
    SELECT RAISE(ABORT, 'a closed proposal never changes');
END;

-- Every ballot ever stored; each voter's highest sequence counts.
CREATE TABLE ballots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    proposal_id INTEGER NOT NULL REFERENCES proposals (id),
    voter_key   TEXT NOT NULL,
    voter_name  TEXT NOT NULL,
    sequence    INTEGER NOT NULL CHECK (sequence >= 0),
    -- The choice as JSON (shared::governance::tally::Choice).
    choice      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    receipt     TEXT NOT NULL UNIQUE,
    stored_at   INTEGER NOT NULL,
    UNIQUE (proposal_id, voter_key, sequence)
);
CREATE INDEX ballots_voter ON ballots (proposal_id, voter_key, sequence);

-- Ballots go only to open proposals, whatever the code above the database does.
CREATE TRIGGER ballots_only_while_open
BEFORE INSERT ON ballots
WHEN (SELECT phase FROM proposals WHERE id = NEW.proposal_id) IS NOT 'open'
BEGIN
    SELECT RAISE(ABORT, 'ballots are accepted only while the proposal is open');
END;
