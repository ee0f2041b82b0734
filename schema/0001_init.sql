-- depot archive index, version 1.
-- Append-only: once merged, never edit this file; add 0002_<change>.sql instead.
-- Every table is described in docs/schema.md.

-- A project is the scope subjects are matched in (PatientID "123" in two projects is two subjects).
CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

-- One row per `depot import` run; finished_at stays NULL when a run was killed.
CREATE TABLE import_runs (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects(id),
    inputs          TEXT NOT NULL,              -- JSON array of the input paths as given
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    files_seen      INTEGER NOT NULL DEFAULT 0,
    imported        INTEGER NOT NULL DEFAULT 0,
    duplicates      INTEGER NOT NULL DEFAULT 0,
    conflicts       INTEGER NOT NULL DEFAULT 0,
    rejected        INTEGER NOT NULL DEFAULT 0,
    bytes_imported  INTEGER NOT NULL DEFAULT 0
);

-- A subject is one patient identity within a project. key_kind 'patient' keys it by
-- (PatientID, IssuerOfPatientID); key_kind 'blank_patient_id' keys it by the StudyInstanceUID of a
-- study whose files carry no PatientID, so that such studies are never merged with anyone.
CREATE TABLE subjects (
    id                    INTEGER PRIMARY KEY,
    project_id            INTEGER NOT NULL REFERENCES projects(id),
    code                  TEXT NOT NULL UNIQUE,   -- archive code S1234BCD: random, carries no PHI
    key_kind              TEXT NOT NULL CHECK (key_kind IN ('patient', 'blank_patient_id')),
    key_value             TEXT NOT NULL,
    key_issuer            TEXT NOT NULL DEFAULT '',
    patient_id            TEXT,
    issuer_of_patient_id  TEXT,
    patient_name          TEXT,
    birth_date            TEXT,
    sex                   TEXT,
    other_patient_ids     TEXT,
    other_patient_names   TEXT,
    created_run_id        INTEGER REFERENCES import_runs(id),
    created_at            TEXT NOT NULL,
    UNIQUE (project_id, key_kind, key_value, key_issuer)
);

-- A study is one StudyInstanceUID; it belongs to exactly one subject and is numbered 1, 2, ...
-- within it.
CREATE TABLE studies (
    id                        INTEGER PRIMARY KEY,
    subject_id                INTEGER NOT NULL REFERENCES subjects(id),
    number                    INTEGER NOT NULL,
    study_uid                 TEXT NOT NULL UNIQUE,
    study_date                TEXT,
    study_time                TEXT,
    accession_number          TEXT,
    study_id                  TEXT,
    study_description         TEXT,
    institution_name          TEXT,
    referring_physician_name  TEXT,
    created_at                TEXT NOT NULL,
    UNIQUE (subject_id, number)
);
CREATE INDEX studies_date ON studies(study_date);

-- A series is one SeriesInstanceUID; label is its SeriesNumber made unique within the study
-- (see docs/import.md: 3 and 3 become 3 and 3.1; a missing SeriesNumber counts as 0).
CREATE TABLE series (
    id                  INTEGER PRIMARY KEY,
    study_id            INTEGER NOT NULL REFERENCES studies(id),
    label               TEXT NOT NULL,
    series_number       INTEGER,                 -- as in the data; NULL when missing or unreadable
    series_uid          TEXT NOT NULL UNIQUE,
    modality            TEXT,
    series_description  TEXT,
    protocol_name       TEXT,
    station_name        TEXT,
    body_part_examined  TEXT,
    created_at          TEXT NOT NULL,
    UNIQUE (study_id, label)
);
CREATE INDEX series_modality ON series(modality);

-- An instance is one SOPInstanceUID, stored once, byte for byte, at stored_path (relative to the
-- archive root, built from archive codes, numbers and the content hash only).
CREATE TABLE instances (
    id                INTEGER PRIMARY KEY,
    series_id         INTEGER NOT NULL REFERENCES series(id),
    sop_uid           TEXT NOT NULL UNIQUE,
    sop_class_uid     TEXT,
    transfer_syntax   TEXT,
    instance_number   INTEGER,
    number_of_frames  INTEGER,
    sha256            TEXT NOT NULL,
    size              INTEGER NOT NULL,
    stored_path       TEXT NOT NULL UNIQUE,
    source_path       TEXT NOT NULL,
    run_id            INTEGER NOT NULL REFERENCES import_runs(id),
    imported_at       TEXT NOT NULL
);
CREATE INDEX instances_series ON instances(series_id);

-- Files that were not archived: kind 'rejected' (unreadable, not DICOM, missing UID, ...) or
-- 'conflict' (kept apart under conflicts/, never overwriting what is stored). A file seen again
-- with the same content and reason updates last_* and times_seen instead of adding a row.
CREATE TABLE rejects (
    id                 INTEGER PRIMARY KEY,
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
    UNIQUE (source_path, sha256, reason)
);
CREATE INDEX rejects_stored_path ON rejects(stored_path);

-- Things an import did on purpose but wants a human to know (a blank PatientID filed as its own
-- subject, a SeriesNumber made unique, ...). One row per event, when the entity was created.
CREATE TABLE import_warnings (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES import_runs(id),
    source_path  TEXT NOT NULL,
    message      TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
