//! The value search: spellings, boundaries, character sets, paths.

use super::auditor;
use crate::runs::alphabet_runs;
use crate::{Auditor, Needle, ValueKind};

#[test]
fn finds_name_parts_case_insensitively_in_text() {
    let a = auditor(&[Needle::new(
        "PatientName",
        ValueKind::PersonName,
        "DOE^JOHNATHAN",
    )]);
    let f = a.scan_file("notes.json", br#"{"note":"johnathan was here"}"#);
    assert_eq!(f.len(), 1);
    assert!(f[0].to_string().contains("PatientName"));
    assert!(
        !f[0].to_string().to_lowercase().contains("johnathan"),
        "never shows the value"
    );
}

#[test]
fn short_parts_need_word_boundaries() {
    let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
    assert!(a.scan_file("x.txt", b"DOES NOT MATCH").is_empty());
    assert_eq!(a.scan_file("x.txt", b"name: DOE, J").len(), 1);
}

#[test]
fn latin1_spelling_is_found() {
    let a = auditor(&[Needle::new(
        "PatientName",
        ValueKind::PersonName,
        "MÜLLER^JÖRG",
    )]);
    let latin1: Vec<u8> = b"PN=M\xDCLLER".to_vec();
    assert_eq!(a.scan_file("x.txt", &latin1).len(), 1);
    assert_eq!(a.scan_file("x.txt", "PN=MÜLLER".as_bytes()).len(), 1);
}

#[test]
fn alphabet_runs_find_every_long_run_and_nothing_else() {
    let mut alphabet = [false; 256];
    for b in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.^" {
        alphabet[usize::from(*b)] = true;
    }
    // Runs of every length at every offset, between bytes outside the alphabet.
    for offset in 0..8 {
        for len in 1..14 {
            let mut hay = vec![0u8; offset];
            hay.extend(std::iter::repeat_n(b'A', len));
            hay.extend([0u8, 1, 2]);
            let runs = alphabet_runs(&hay, &alphabet, 6);
            if len >= 6 {
                assert_eq!(
                    runs,
                    vec![offset..offset + len],
                    "offset {offset} len {len}"
                );
            } else {
                assert!(runs.is_empty(), "offset {offset} len {len}");
            }
        }
    }
    // Pseudo-random bytes, text-like and image-like, against the plain definition: every
    // maximal run of alphabet bytes at least `min` long.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in 0..400 {
        let len = (next() % 700) as usize;
        let inside_share = next() % 100;
        let hay: Vec<u8> = (0..len)
            .map(|_| {
                if next() % 100 < inside_share {
                    b"AZ09.^"[(next() % 6) as usize]
                } else {
                    (next() % 40) as u8
                }
            })
            .collect();
        for min in [1, 2, 5, 6, 16] {
            let mut expected = Vec::new();
            let mut i = 0;
            while i < hay.len() {
                let start = i;
                while i < hay.len() && alphabet[usize::from(hay[i])] {
                    i += 1;
                }
                if i - start >= min {
                    expected.push(start..i);
                }
                i = i.max(start + 1);
            }
            assert_eq!(
                alphabet_runs(&hay, &alphabet, min),
                expected,
                "case {case} min {min}"
            );
        }
    }
    // 16-bit samples below 4096 never form a run.
    let samples: Vec<u8> = (0u16..5000)
        .flat_map(|v| (v % 4096).to_le_bytes())
        .collect();
    assert!(alphabet_runs(&samples, &alphabet, 6).is_empty());
}

#[test]
fn path_findings_never_show_the_value() {
    let a = auditor(&[Needle::new(
        "PatientID",
        ValueKind::Identifier,
        "MRN9053855",
    )]);
    let f = a.scan_path("notes/MRN9053855_scan.txt");
    assert_eq!(f.len(), 1);
    let shown = f[0].to_string();
    assert!(!shown.contains("MRN9053855"), "{shown}");
    assert!(shown.contains("notes/<PatientID>_scan.txt"), "{shown}");
}

#[test]
fn uid_boundaries_do_not_match_longer_uids() {
    let a = auditor(&[Needle::new("StudyInstanceUID", ValueKind::Uid, "1.2.3.4.5")]);
    assert!(a.scan_path("x/1.2.3.4.56/y").is_empty());
    assert!(a.scan_path("x/11.2.3.4.5/y").is_empty());
    assert_eq!(a.scan_path("x/1.2.3.4.5/y").len(), 1);
}

#[test]
fn dates_in_several_spellings_and_inside_datetimes() {
    let a = auditor(&[Needle::new("PatientBirthDate", ValueKind::Date, "19650312")]);
    assert_eq!(a.scan_path("1965-03-12_scan").len(), 1);
    assert_eq!(a.scan_file("x.txt", b"DT=19650312101500").len(), 1);
    assert!(a.scan_file("x.txt", b"2.25.919650312").is_empty());
}

pub(super) fn found(a: &Auditor, hay: &[u8]) -> bool {
    !a.scan_file("x.txt", hay).is_empty()
}

#[test]
fn names_in_the_data_s_own_character_set_are_found() {
    let cases: [(&str, &str, &'static encoding_rs::Encoding); 6] = [
        ("Иванов^Пётр", "Иванов", encoding_rs::ISO_8859_5),
        ("Łukasiewicz^Żaneta", "Łukasiewicz", encoding_rs::ISO_8859_2),
        (
            "Παπαδόπουλος^Νίκος",
            "Παπαδόπουλος",
            encoding_rs::ISO_8859_7,
        ),
        ("Yılmaz^Ayşe", "Ayşe", encoding_rs::WINDOWS_1254),
        ("כהן^דוד", "כהן", encoding_rs::ISO_8859_8),
        ("王^小东", "小东", encoding_rs::GB18030),
    ];
    for (name, part, enc) in cases {
        let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, name)]);
        let (bytes, _, err) = enc.encode(part);
        assert!(!err);
        let mut hay = b"LO ".to_vec();
        hay.extend_from_slice(&bytes);
        hay.extend_from_slice(b" x");
        assert!(found(&a, &hay), "{name} in {}", enc.name());
    }
}

#[test]
fn iso_2022_spellings_are_found_with_and_without_escapes() {
    let a = auditor(&[Needle::new(
        "PatientName",
        ValueKind::PersonName,
        "Yamada^Tarou=山田^太郎=やまだ^たろう",
    )]);
    // ISO 2022 IR 87: ESC $ B, seven-bit JIS X 0208 (山田 = 3B 33 45 44).
    assert!(found(&a, b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B"));
    // The same bytes folded to another case are other characters.
    assert!(!found(&a, b"x \x1b$B;3ed\x1b(B y"));
    let k = auditor(&[Needle::new(
        "PatientName",
        ValueKind::PersonName,
        "Hong^Gildong=홍^길동",
    )]);
    // ISO 2022 IR 149: ESC $ ) C, then KS X 1001 with the high bit (홍 = C8 AB).
    assert!(found(
        &k,
        b"Hong^Gildong=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf"
    ));
    // Just the single-character surname, after its escape.
    assert!(found(&k, b"=\x1b$)C\xc8\xab^x"));
}

#[test]
fn upper_lower_and_title_case_of_non_ascii_names() {
    let a = auditor(&[Needle::new(
        "PatientName",
        ValueKind::PersonName,
        "Müller^Hans",
    )]);
    assert!(found(&a, b"x M\xDCLLER x"), "upper case Latin-1");
    assert!(found(&a, "x MÜLLER x".as_bytes()), "upper case UTF-8");
    assert!(found(&a, "x müller x".as_bytes()), "lower case UTF-8");
    let b = auditor(&[Needle::new(
        "PatientName",
        ValueKind::PersonName,
        "ÇELİK^AYŞE",
    )]);
    assert!(found(&b, "x Ayşe x".as_bytes()), "title case");
    // ISO_IR 148 (Latin-5) lower case.
    let (l5, _, _) = encoding_rs::WINDOWS_1254.encode("ayşe");
    let mut hay = b"x ".to_vec();
    hay.extend_from_slice(&l5);
    assert!(found(&b, &hay));
}

#[test]
fn birth_dates_in_the_spellings_the_engine_cuts() {
    let a = auditor(&[Needle::new("PatientBirthDate", ValueKind::Date, "19650312")]);
    for s in [
        "19650312",
        "1965-03-12",
        "12.03.1965",
        "03/12/1965",
        "12/03/1965",
    ] {
        assert!(found(&a, format!("born {s}").as_bytes()), "{s}");
    }
}

#[test]
fn hyphenated_and_multi_word_names_are_searched_part_by_part() {
    let a = auditor(&[Needle::new(
        "PatientName",
        ValueKind::PersonName,
        "Schulz-Brandenburger^Anna Maria",
    )]);
    assert!(found(&a, b"Dr. Schulz said"));
    assert!(found(&a, b"the Brandenburger file"));
    assert!(found(&a, b"Maria"));
    assert!(!found(&a, b"Mariana"));
}
