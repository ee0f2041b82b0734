//! `manifest.json` and `manifest.csv` encoded as they are written, with each series' files
//! read from where the export holds them (its plan, on disk for a large export) instead of
//! from the manifest: an export of a million files writes about 220 MB of JSON, and its file
//! entries took about 180 MB of memory.
//!
//! The JSON is the manifest's own encoding (serde's, pretty-printed) with every empty list of
//! a series' files filled in: the files are encoded one by one and indented as they would be
//! in place. The bytes are those of [`Manifest::to_json`] of the manifest holding the files
//! (a test compares them).

use std::io::{self, Write};

use super::{FileEntry, Manifest, csv_field, ids_by_file};

/// Where the files of a manifest's series come from, when the manifest does not hold them.
pub trait FileSource {
    /// Calls `f` with every file of series number `series` (counted from 0 over the whole
    /// manifest, in its order: subjects, studies, series), in the series' order.
    fn each_file(&self, series: usize, f: &mut dyn FnMut(&FileEntry)) -> io::Result<()>;
}

impl Manifest {
    /// Writes `manifest.json` to `out`: [`Manifest::to_json`]'s bytes, the files of each
    /// series from `files` when given (the manifest's own lists of files are then empty).
    pub fn write_json(
        &self,
        files: Option<&dyn FileSource>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let Some(files) = files else {
            serde_json::to_writer_pretty(&mut *out, self)?;
            return out.write_all(b"\n");
        };
        let mut skeleton = Vec::with_capacity(64 << 10);
        serde_json::to_writer_pretty(&mut skeleton, self)?;
        // Each series' empty list, in order (a key is written with its quotes; in a string
        // value a quote is escaped, so this is never inside one).
        const EMPTY: &[u8] = b"\"files\": []";
        let mut at = 0;
        let mut series = 0;
        let mut entry = Vec::new();
        while let Some(found) = memchr::memmem::find(&skeleton[at..], EMPTY) {
            let i = at + found;
            let line = skeleton[..i]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |n| n + 1);
            let indent = i - line;
            // Up to and with the list's `[`.
            out.write_all(&skeleton[at..i + EMPTY.len() - 1])?;
            let mut first = true;
            let mut failed = None;
            files.each_file(series, &mut |f| {
                if failed.is_some() {
                    return;
                }
                entry.clear();
                let written = serde_json::to_writer_pretty(&mut entry, f)
                    .map_err(io::Error::from)
                    .and_then(|()| {
                        out.write_all(if first { b"\n" } else { b",\n" })?;
                        for (n, text) in entry.split(|&b| b == b'\n').enumerate() {
                            if n > 0 {
                                out.write_all(b"\n")?;
                            }
                            write_indent(out, indent + 2)?;
                            out.write_all(text)?;
                        }
                        Ok(())
                    });
                first = false;
                failed = written.err();
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            if !first {
                out.write_all(b"\n")?;
                write_indent(out, indent)?;
            }
            out.write_all(b"]")?;
            at = i + EMPTY.len();
            series += 1;
        }
        out.write_all(&skeleton[at..])?;
        out.write_all(b"\n")
    }

    /// Writes `manifest.csv` to `out` ([`Manifest::to_csv`]), the files of each series from
    /// `files` when given.
    pub fn write_csv(&self, files: Option<&dyn FileSource>, out: &mut dyn Write) -> io::Result<()> {
        let ids = ids_by_file(&self.findings);
        writeln!(
            out,
            "subject,study,series,modality,path,{},bytes,findings",
            self.checksum
        )?;
        let mut series = 0;
        for s in &self.subjects {
            for st in &s.studies {
                for se in &st.series {
                    let mut failed = None;
                    let mut row = |f: &FileEntry| {
                        if failed.is_some() {
                            return;
                        }
                        let found = ids
                            .get(f.path.as_str())
                            .map(|v| v.join(" "))
                            .unwrap_or_default();
                        failed = writeln!(
                            out,
                            "{},{},{},{},{},{},{},{}",
                            csv_field(&s.id),
                            st.number,
                            csv_field(&se.number),
                            csv_field(&se.modality),
                            csv_field(&f.path),
                            f.checksum.hex(),
                            f.bytes,
                            found
                        )
                        .err();
                    };
                    match files {
                        Some(files) => files.each_file(series, &mut row)?,
                        None => se.files.iter().for_each(&mut row),
                    }
                    if let Some(e) = failed {
                        return Err(e);
                    }
                    series += 1;
                }
            }
        }
        Ok(())
    }
}

fn write_indent(out: &mut dyn Write, n: usize) -> io::Result<()> {
    const SPACES: [u8; 64] = [b' '; 64];
    let mut left = n;
    while left > 0 {
        let k = left.min(SPACES.len());
        out.write_all(&SPACES[..k])?;
        left -= k;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::full_manifest;

    /// The files of a manifest, given as a source.
    struct Held(Vec<Vec<FileEntry>>);

    impl FileSource for Held {
        fn each_file(&self, series: usize, f: &mut dyn FnMut(&FileEntry)) -> io::Result<()> {
            self.0[series].iter().for_each(f);
            Ok(())
        }
    }

    /// The manifest without its files, and its files as a source.
    fn split(m: &Manifest) -> (Manifest, Held) {
        let mut bare = m.clone();
        let mut files = Vec::new();
        for s in &mut bare.subjects {
            for st in &mut s.studies {
                for se in &mut st.series {
                    files.push(std::mem::take(&mut se.files));
                }
            }
        }
        (bare, Held(files))
    }

    #[test]
    fn a_manifest_written_with_its_files_read_apart_is_the_same_bytes() {
        let full = full_manifest();
        assert!(full.files().count() > 3);
        let (bare, held) = split(&full);
        let mut json = Vec::new();
        bare.write_json(Some(&held), &mut json).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            String::from_utf8(full.to_json()).unwrap()
        );
        let mut csv = Vec::new();
        bare.write_csv(Some(&held), &mut csv).unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            String::from_utf8(full.to_csv()).unwrap()
        );
        // And without a source, the manifest's own files.
        let mut json = Vec::new();
        full.write_json(None, &mut json).unwrap();
        assert_eq!(json, full.to_json());
        // A series with no file keeps its empty list.
        let mut one_empty = full.clone();
        one_empty.subjects[0].studies[0].series[0].files.clear();
        let (bare, held) = split(&one_empty);
        let mut json = Vec::new();
        bare.write_json(Some(&held), &mut json).unwrap();
        assert_eq!(json, one_empty.to_json());
    }

    #[test]
    fn a_source_that_fails_stops_the_writing() {
        struct Failing;
        impl FileSource for Failing {
            fn each_file(&self, _: usize, _: &mut dyn FnMut(&FileEntry)) -> io::Result<()> {
                Err(io::Error::other("plan unreadable"))
            }
        }
        let (bare, _) = split(&full_manifest());
        let mut out = Vec::new();
        assert!(bare.write_json(Some(&Failing), &mut out).is_err());
        assert!(bare.write_csv(Some(&Failing), &mut out).is_err());
    }
}
