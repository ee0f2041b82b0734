//! The PHI audit: proof, file by file and byte by byte, that a package carries none of the
//! identifying values the archive holds for its subjects, and none of the structures that
//! usually hide them.
//!
//! The crate is given the values to search ([`Needle`]s, owned by the package's subjects
//! through [`owners`]) and the structural rules to check ([`Rules`]); which values those are
//! for a package is the export's business. It reads files, folders and zips (through the
//! archive's structural scan, reading layer and zip walker) and knows nothing of the export.
//!
//! De-identification is only as good as its blind spots, so the audit does not trust the
//! engine: it searches every byte of every file (inflating deflated data sets first, since PHI
//! in a compressed stream is invisible to a byte search), every path, zip entry name, zip comment
//! and extra field, and the manifest, for the archive's own values — names and their parts, IDs,
//! birth dates in the spellings people write, accession numbers, institutions, physicians,
//! original UIDs — in every character set DICOM defines that can encode them (the index holds
//! decoded text; the file holds bytes in its own Specific Character Set) and in their Unicode
//! case variants; in a big endian file, OW (OL, OF, OD, OV) values also in the byte order a
//! little endian copy of the file gives them (`byte_order`). It also checks structure: no
//! private element at any depth, and PatientIdentityRemoved where the level promises it.
//!
//! Where a file's regions lie (meta group, data set, top-level Pixel Data) comes from
//! [`archive::scan::check`], the one structural walker, which also refuses hostile lengths and
//! deflate bombs before anything is parsed or inflated here. A file it refuses is a finding of
//! its own, and its raw bytes are still searched for every value. Parsing (dicom-rs's token
//! reader, values kept as raw bytes) happens only after that check, for every DICOM file, as
//! the import reads it (a file dicom-rs would misread as written, with UN sequences or a meta
//! group without its length, through the reading layer's repaired copy: see `repaired`): for
//! the structural rules, and to search each element's value on its own and judge what is found
//! there (`verdict`); where each value lies in the file
//! (`ranges`) tells a match inside an element from one outside all of them.
//!
//! A package's file or zip entry bigger than [`STREAM_ABOVE`] is never held whole: it is
//! streamed through the same steps ([`archive::scan::check_reader`], the value search in
//! overlapping windows region by region, the token walk with the pixel data skipped), with the
//! same findings as in memory. The export's own audit holds each file in memory anyway.
//!
//! Findings name the place and the kind of value, never the value itself: the audit's output is
//! shown on screens and pasted into tickets.
//!
//! Findings that are not leaks are not findings, without opening holes: short values (under
//! [`LONG_NEEDLE`] bytes) must stand between word boundaries and are not searched inside the
//! pixel data value, where random bytes would match them by chance; long values need only
//! digit boundaries (a StudyID `000101` is not inside `19000101`, a name glued into text still
//! counts). De-identification placeholders are not searched
//! ([`anon_core::identity::is_placeholder`]). A match
//! inside a value depot wrote ([`crate::written`]), inside a number or code that is not the
//! whole value, or inside a kept equipment attribute (unless it is a person's whole name of two
//! words or more, `full_name`) is dropped or reported as an advisory
//! [`Finding::Coincidence`] (`verdict`). A single CJK character (a meaningful
//! surname such as 王 or 홍) is searched too, but a byte match of it counts only inside a text
//! value. A short part of another subject's name counts only in that subject's files
//! ([`crate::owners`]). In the manifest, which depot writes itself, depot's own
//! vocabulary (field names, CSV header, message templates, level and option names), its
//! findings' and release's own terms and computed fields are blanked first
//! (`manifest_words`) and every value must be a whole word, so a patient named "Path"
//! or "Series" does not make every package unexportable.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod auditor;
mod boundary;
mod byte_order;
mod codes;
mod dicom;
mod element;
mod error;
mod file_scan;
mod finding;
mod folder;
mod full_name;
mod manifest_stream;
mod manifest_words;
mod matcher;
mod needle;
pub mod owners;
mod package;
mod ranges;
mod regions;
mod repaired;
mod report;
mod rules;
mod runs;
mod source;
mod spellings;
mod stream;
mod uid_builder;
mod uid_index;
mod uid_spill;
mod uid_table;
mod verdict;
mod walk;
mod windows;
pub mod written;
mod zip_package;

#[cfg(test)]
mod tests;

pub use auditor::{Auditor, AuditorBuilder, OriginalUids};
pub use error::AuditError;
pub use finding::{Finding, Region};
pub use manifest_stream::ManifestScan;
pub use needle::{LONG_NEEDLE, MIN_NEEDLE, Needle, ValueKind};
pub use package::audit_package;
pub use report::AuditReport;
pub use rules::Rules;
pub use stream::{STREAM_ABOVE, STREAM_CHUNK};
