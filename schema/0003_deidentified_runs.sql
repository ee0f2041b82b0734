-- depot archive index, version 3.
-- Append-only: once merged, never edit this file; add 0004_<change>.sql instead.
-- Every table is described in docs/schema.md.

-- A run whose files were de-identified before they were stored (a DICOM receiver applying a
-- de-identification profile to what a sender sends, as dcm4chee's incoming coercion does):
-- the originals were never stored. The value names the profile, its options and the key's
-- fingerprint; NULL means the run stored the files as they came.
ALTER TABLE import_runs ADD COLUMN deidentified TEXT;
