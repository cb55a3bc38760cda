-- Display names are unique as people read them: `name_key` is the name after Unicode NFKC and
-- lower case (computed by the server, which also fills it for rows older than this column).
-- The first key to use a name keeps it; NULL means the row holds no name yet (a name that
-- was already someone else's when names became unique).
ALTER TABLE members ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX members_name_key ON members (name_key);
