-- risk/screening (issue 16 item 3): sanctions and watch-list entries imported
-- offline from the operator's files, and the record of each import.

-- One row per listed party. list is the list's key ("ofac-sdn", "uk-hmt", or
-- the list column of a simple CSV); reference is the list's own id (OFAC
-- ent_num, UK Group ID, the CSV's reference). aliases is a JSON array of
-- {"name","type"} objects. An import replaces every row of its list.
CREATE TABLE screening_entries (
    seq BIGSERIAL PRIMARY KEY,
    list TEXT NOT NULL,
    reference TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    program TEXT NOT NULL DEFAULT '',
    aliases TEXT NOT NULL DEFAULT '[]',
    UNIQUE (list, reference)
);

-- One row per import: the list, the file's format and SHA-256, how many
-- entries it holds, when and by whom. seq orders imports; the newest seq is
-- the version of the lists every node's matcher compares against.
CREATE TABLE screening_imports (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    list TEXT NOT NULL,
    format TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    entries INTEGER NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL,
    imported_by TEXT NOT NULL
);
CREATE INDEX screening_imports_list ON screening_imports (list, seq);
