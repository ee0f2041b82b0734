-- depot archive index, version 2.
-- Append-only: once merged, never edit this file; add 0003_<change>.sql instead.
-- Every table is described in docs/schema.md.

-- A run records what happened even when it stopped on a fatal error (finished_at and the counts
-- of what was committed, plus the error), and how many files it passed over on purpose
-- (DICOMDIRs: the index of a medium, not an instance).
ALTER TABLE import_runs ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE import_runs ADD COLUMN error TEXT;

-- Rejects are kept per project: the same file rejected by imports into two projects is two rows,
-- each listed under its own project (version 1 keyed a row by path, content and reason only, so
-- a row moved to the project of whichever run saw it last). Existing rows keep the project of
-- the run that last saw them. SQLite cannot change a UNIQUE constraint in place: the table is
-- rebuilt (nothing references it).
CREATE TABLE rejects_v2 (
    id                 INTEGER PRIMARY KEY,
    project_id         INTEGER NOT NULL REFERENCES projects(id),
    kind               TEXT NOT NULL CHECK (kind IN ('rejected', 'conflict')),
    source_path        TEXT NOT NULL,
    reason             TEXT NOT NULL,
    sha256             TEXT NOT NULL DEFAULT '',   -- '' when the file could not be read
    size               INTEGER,
    sop_uid            TEXT,
    existing_sha256    TEXT,                       -- conflicts: hash of the instance already stored
    stored_path        TEXT,                       -- conflicts: where the bytes are kept
    first_run_id       INTEGER NOT NULL REFERENCES import_runs(id),
    last_run_id        INTEGER NOT NULL REFERENCES import_runs(id),
    first_seen         TEXT NOT NULL,
    last_seen          TEXT NOT NULL,
    times_seen         INTEGER NOT NULL DEFAULT 1,
    UNIQUE (project_id, source_path, sha256, reason)
);
INSERT INTO rejects_v2 (id, project_id, kind, source_path, reason, sha256, size, sop_uid,
                        existing_sha256, stored_path, first_run_id, last_run_id, first_seen,
                        last_seen, times_seen)
    SELECT r.id, ir.project_id, r.kind, r.source_path, r.reason, r.sha256, r.size, r.sop_uid,
           r.existing_sha256, r.stored_path, r.first_run_id, r.last_run_id, r.first_seen,
           r.last_seen, r.times_seen
    FROM rejects r JOIN import_runs ir ON ir.id = r.last_run_id;
DROP TABLE rejects;
ALTER TABLE rejects_v2 RENAME TO rejects;
CREATE INDEX rejects_stored_path ON rejects(stored_path);
