//! Zip dumps: streamed entry by entry and named by entry, behind a stub, entries sharing names
//! or named like folders, nested zips.

use super::*;

/// Writes a zip of `(name, bytes, deflated)` entries.
fn write_zip(path: &Path, entries: &[(&str, &[u8], bool)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes, deflated) in entries {
        let method = if *deflated {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let o = zip::write::SimpleFileOptions::default().compression_method(method);
        z.start_file(*name, o).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

/// Replaces every occurrence of `from` by `to` (same length) in a file: renames zip entries in
/// their local and central headers, to make names no zip writer would write.
fn patch(path: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(path).unwrap();
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert_eq!(found, 2, "{from:?}: local and central header");
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn zip_dumps_are_streamed_and_named_by_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("dump.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let o = zip::write::SimpleFileOptions::default();
        for i in 0..3 {
            z.start_file(format!("DOE^JOHN/SER1/IM{i}"), o).unwrap();
            z.write_all(
                &spec("P1", "1.4.1", "1.4.1.1", &format!("1.4.1.1.{i}"))
                    .to_bytes()
                    .unwrap(),
            )
            .unwrap();
        }
        z.start_file("DOE^JOHN/readme.txt", o).unwrap();
        z.write_all(b"hello").unwrap();
        z.finish().unwrap();
    }
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let s = archive
        .import(std::slice::from_ref(&zip_path), &opts(), &NoObserver)
        .unwrap();
    assert_eq!((s.files_seen, s.imported, s.rejected), (4, 3, 1), "{s:?}");
    let rejects = archive.rejects(&Filter::default()).unwrap();
    assert_eq!(
        rejects[0].path,
        format!("{}!/DOE^JOHN/readme.txt", zip_path.display())
    );
    let inst = archive.instances(&Filter::default()).unwrap();
    assert!(inst[0].source_path.contains("dump.zip!/DOE^JOHN/SER1/IM"));
}

#[test]
fn a_zip_named_so_is_opened_even_behind_a_stub() {
    // A self-extractor stub (or a spanning marker) before the first entry: the file does not
    // start with PK\x03\x04, but its central directory is found from the end.
    let tmp = tempfile::tempdir().unwrap();
    let mut zipped = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut zipped);
        z.start_file("IM0", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(
            &spec("P1", "1.4.7", "1.4.7.1", "1.4.7.1.1")
                .to_bytes()
                .unwrap(),
        )
        .unwrap();
        z.finish().unwrap();
    }
    let mut bytes = b"MZ self-extractor stub\0\0".to_vec();
    bytes.extend_from_slice(zipped.get_ref());
    let zip_path = tmp.path().join("sfx.zip");
    std::fs::write(&zip_path, &bytes).unwrap();
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let s = archive
        .import(std::slice::from_ref(&zip_path), &opts(), &NoObserver)
        .unwrap();
    assert_eq!((s.files_seen, s.imported, s.rejected), (1, 1, 0), "{s:?}");
}

#[test]
fn zip_entries_sharing_a_name_or_named_like_folders_are_all_read() {
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("dump.zip");
    let a = spec("PA", "1.9.1", "1.9.1.1", "1.9.1.1.1")
        .to_bytes()
        .unwrap();
    let b = spec("PB", "1.9.2", "1.9.2.1", "1.9.2.1.1")
        .to_bytes()
        .unwrap();
    let c = spec("PC", "1.9.3", "1.9.3.1", "1.9.3.1.1")
        .to_bytes()
        .unwrap();
    let d = spec("PD", "1.9.4", "1.9.4.1", "1.9.4.1.1")
        .to_bytes()
        .unwrap();
    write_zip(
        &zip_path,
        &[
            ("DUPNAME_A", &a, true),
            ("DUPNAME_B", &b, false),
            ("FOLDERX_", &c, true),
            ("DUPNAME_C", &d, true),
            ("empty_dir_", b"", false),
        ],
    );
    patch(&zip_path, b"DUPNAME_B", b"DUPNAME_A");
    patch(&zip_path, b"DUPNAME_C", b"DUPNAME_A");
    patch(&zip_path, b"FOLDERX_", b"FOLDERX/");
    patch(&zip_path, b"empty_dir_", b"empty_dir/");
    // The zip crate indexes entries by name: it shows one DUPNAME_A of three.
    let crate_view = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    assert_eq!(crate_view.len(), 3);

    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let seen = Collect::default();
    let s = archive
        .import(std::slice::from_ref(&zip_path), &opts(), &seen)
        .unwrap();
    assert_eq!(
        (s.files_seen, s.imported, s.rejected),
        (4, 4, 0),
        "every entry holding data is read: {s:?}"
    );
    let sources: BTreeMap<String, String> = archive
        .instances(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|i| (i.sop_uid, i.source_path))
        .collect();
    let z = zip_path.display();
    assert_eq!(sources["1.9.1.1.1"], format!("{z}!/DUPNAME_A [entry 1]"));
    assert_eq!(sources["1.9.2.1.1"], format!("{z}!/DUPNAME_A [entry 2]"));
    assert_eq!(sources["1.9.3.1.1"], format!("{z}!/FOLDERX/"));
    assert_eq!(sources["1.9.4.1.1"], format!("{z}!/DUPNAME_A [entry 4]"));
    for (sop, bytes) in [("1.9.1.1.1", &a), ("1.9.2.1.1", &b), ("1.9.4.1.1", &d)] {
        let inst = archive
            .instances(&Filter::default())
            .unwrap()
            .into_iter()
            .find(|i| i.sop_uid == sop)
            .unwrap();
        assert_eq!(&std::fs::read(&inst.path).unwrap(), bytes, "{sop}");
    }
    assert!(archive.verify().unwrap().is_empty());
}

#[test]
fn nested_zips_raw_data_sets_and_dicomdirs_are_named_accurately() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let good = spec("P1", "1.10.1", "1.10.1.1", "1.10.1.1.1")
        .to_bytes()
        .unwrap();
    // A data set without preamble, DICM and file meta group.
    let group_length = u32::from_le_bytes(good[140..144].try_into().unwrap()) as usize;
    let raw = good[144 + group_length..].to_vec();
    assert_eq!(&raw[..2], &[0x08, 0x00], "starts with group 0008");
    let dicomdir = InstanceSpec {
        sop_class_uid: "1.2.840.10008.1.3.10".into(),
        ..spec("P1", "1.10.9", "1.10.9.1", "1.10.9.1.1")
    }
    .to_bytes()
    .unwrap();
    let inner = tmp.path().join("inner.zip");
    write_zip(&inner, &[("IM1", &good, true)]);
    let outer = dump.join("outer.zip");
    std::fs::create_dir_all(&dump).unwrap();
    write_zip(
        &outer,
        &[
            ("inner.zip", &std::fs::read(&inner).unwrap(), false),
            ("DICOMDIR", &dicomdir, true),
        ],
    );
    write(&dump, "raw_dataset", &raw);
    write(&dump, "cd/DICOMDIR", &dicomdir);
    write(&dump, "cd/IM1", &good);

    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let seen = Collect::default();
    let s = archive
        .import(std::slice::from_ref(&dump), &opts(), &seen)
        .unwrap();
    assert_eq!(
        (s.files_seen, s.imported, s.rejected, s.skipped),
        (5, 1, 2, 2),
        "{s:?}"
    );
    let outcomes = seen.outcomes.lock().unwrap().clone();
    let get = |k: String| {
        outcomes
            .get(&k)
            .cloned()
            .unwrap_or_else(|| panic!("{k}: {outcomes:?}"))
    };
    let Outcome::Rejected { reason } = get(format!("{}!/inner.zip", outer.display())) else {
        panic!()
    };
    assert!(
        reason.contains("nested zip archives are not opened") && !reason.contains("name it"),
        "{reason}"
    );
    let Outcome::Rejected { reason } = get(dump.join("raw_dataset").display().to_string()) else {
        panic!()
    };
    assert!(
        reason.contains("raw data set without the file meta information"),
        "{reason}"
    );
    for dir in [
        dump.join("cd/DICOMDIR").display().to_string(),
        format!("{}!/DICOMDIR", outer.display()),
    ] {
        let Outcome::Skipped { reason } = get(dir) else {
            panic!()
        };
        assert!(reason.contains("DICOMDIR"), "{reason}");
    }
    // A dump that is a CD (DICOMDIR and its files) imports cleanly.
    let cd = archive
        .import(&[dump.join("cd")], &opts(), &NoObserver)
        .unwrap();
    assert!(cd.is_clean(), "{cd:?}");
    assert_eq!((cd.duplicates, cd.skipped), (1, 1));
    let rejects = archive.rejects(&Filter::default()).unwrap();
    assert_eq!(
        rejects.len(),
        2,
        "skipped files are no rejects: {rejects:?}"
    );
}
