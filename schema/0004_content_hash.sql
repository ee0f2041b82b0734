-- depot archive index, version 4.
-- Append-only: once merged, never edit this file; add 0005_<change>.sql instead.
-- Every table is described in docs/schema.md.

-- The content hash of stored files, rejects and conflicts is named for what it is, not for one
-- algorithm: the archive records its algorithm once, in `content_hash`.
ALTER TABLE instances RENAME COLUMN sha256 TO content_hash;
ALTER TABLE rejects RENAME COLUMN sha256 TO content_hash;
ALTER TABLE rejects RENAME COLUMN existing_sha256 TO existing_hash;

-- The archive's content hash algorithm, one row. An archive that already holds a hash (an
-- instance, a conflict, a reject that could be read) was made with SHA-256 and keeps it for
-- good: its rows, stored file names and the "seen again" key of its rejects stay valid and
-- nothing is rehashed. A new archive (or one holding no hash yet) uses BLAKE3.
CREATE TABLE content_hash (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    algorithm  TEXT NOT NULL CHECK (algorithm IN ('blake3', 'sha256'))
);
INSERT INTO content_hash (id, algorithm)
    SELECT 1, CASE
        WHEN EXISTS (SELECT 1 FROM instances)
          OR EXISTS (SELECT 1 FROM rejects WHERE content_hash <> '' OR existing_hash IS NOT NULL)
        THEN 'sha256' ELSE 'blake3' END;
