-- Which deployment this database is: a random id made at the first start, covered by every
-- new proposal's digest (and so by every ballot's signature), so a ballot cast on one
-- deployment is refused by any other, even one with the same world data and proposals.
CREATE TABLE deployment (
    id TEXT NOT NULL
);
-- The deployment a proposal's digest covers; NULL for proposals from before (their digest
-- covers only the id and the text).
ALTER TABLE proposals ADD COLUMN deployment TEXT;
