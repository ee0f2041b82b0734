//! Tests of cleaning: case folding in any script, word and number boundaries, code strings,
//! encoded identifiers in bytes.

use super::*;

#[test]
fn cuts_identifiers_case_insensitively_in_any_script() {
    let s = Scrubber::new(["Müller", "Hans", "12345", "X"]);
    assert_eq!(
        s.clean_text("Scan of MÜLLER hans, id 12345").as_deref(),
        Some("Scan of  , id ")
    );
    assert_eq!(s.clean_text("nothing here X"), None);
    assert!(Scrubber::new(["", " ", "A"]).is_empty());
}

#[test]
fn short_values_are_cut_as_whole_words_long_ones_not_from_longer_numbers() {
    let s = Scrubber::new(["Li", "000101"]);
    assert_eq!(s.clean_text("Clinical"), None);
    assert_eq!(s.clean_text("Dr Li, T1").as_deref(), Some("Dr , T1"));
    assert_eq!(s.clean_text("19000101"), None);
    assert_eq!(s.clean_text("study 000101.").as_deref(), Some("study ."));
    let r = Scrubber::with_removed(
        [],
        &[
            (ValueKind::Identifier, "134".to_string()),
            (ValueKind::Text, "CT".to_string()),
            (ValueKind::Uid, "1.2.3.4".to_string()),
            (ValueKind::Text, "NONE".to_string()),
            (ValueKind::PersonName, "Wu^Li".to_string()),
        ],
    );
    assert_eq!(r.clean_text("134 slices CT NONE"), None);
    assert_eq!(r.clean_text("ref 1.2.3.45 and 1.2.3.4.5"), None);
    assert_eq!(
        r.clean_text("ref 1.2.3.4, Dr Wu").as_deref(),
        Some("ref , Dr ")
    );
}

#[test]
fn case_folding_handles_final_sigma_sharp_s_and_single_ideographs() {
    let s = Scrubber::new(["ΠΑΠΑΔΌΠΟΥΛΟΣ", "Weiß", "王"]);
    assert_eq!(s.clean_text("Dr Παπαδόπουλος").as_deref(), Some("Dr "));
    assert_eq!(s.clean_text("ΠΑΠΑΔΌΠΟΥΛΟΣ.").as_deref(), Some("."));
    assert_eq!(
        s.clean_text("Herr WEISS, Frau weiss").as_deref(),
        Some("Herr , Frau ")
    );
    assert_eq!(s.clean_text("王小明").as_deref(), Some("小明"));
    let upper = Scrubber::new(["Παπαδόπουλος"]);
    assert_eq!(upper.clean_text("ΠΑΠΑΔΌΠΟΥΛΟΣ").as_deref(), Some(""));
    assert!(!worth_cutting("A") && worth_cutting("홍") && worth_cutting("Li"));
}

#[test]
fn code_strings_lose_only_whole_identifying_words() {
    let s = Scrubber::new(["ZZZDOWNTIME^MARY", "MARY", "CT", "SMITH"]);
    assert_eq!(s.clean_code("PRIMARY", Terms::Keep), None);
    assert_eq!(s.clean_code("CT", Terms::Keep), None);
    assert_eq!(
        s.clean_code("SMITH_HEAD", Terms::Keep).as_deref(),
        Some("HEAD")
    );
    assert_eq!(
        s.clean_code("MARY", Terms::Keep),
        None,
        "a defined term, as a whole"
    );
    assert_eq!(s.clean_code("MARY", Terms::Cut).as_deref(), Some(""));
    assert_eq!(s.clean_code("MARY SMITH", Terms::Keep).as_deref(), Some(""));
    assert_eq!(
        s.clean_code("HEAD SMITH NECK", Terms::Keep).as_deref(),
        Some("HEAD NECK")
    );
    // Long identifiers are cut anywhere; values that are no code are cleaned as text.
    let s = Scrubber::new(["HALVORSEN", "MARY"]);
    assert_eq!(
        s.clean_code("DRHALVORSEN_X", Terms::Keep).as_deref(),
        Some("DR_X")
    );
    assert_eq!(
        s.clean_code("mr,\"Halvorsen", Terms::Keep).as_deref(),
        Some("mr,\"")
    );
    assert_eq!(s.clean_code("PRIMARY", Terms::Keep), None);
}

#[test]
fn cuts_encoded_identifiers_from_bytes() {
    let s = Scrubber::new(["Müller"]);
    let mut latin = b"xx M\xfcller yy".to_vec();
    assert!(s.clean_bytes(&mut latin));
    assert_eq!(&latin, b"xx \0\0\0\0\0\0 yy");
    let mut utf8 = "a MÜLLER b".as_bytes().to_vec();
    assert!(s.clean_bytes(&mut utf8));
    assert!(!String::from_utf8_lossy(&utf8).contains("LLER"));
    let mut clean = b"plain".to_vec();
    assert!(!s.clean_bytes(&mut clean));
    // Cyrillic in ISO 8859-5, Japanese in Shift JIS and as JIS X 0208 bytes.
    let s = Scrubber::new(["Иванов", "山田"]);
    let mut cyr = b"x \xb8\xd2\xd0\xdd\xde\xd2 y".to_vec();
    assert!(s.clean_bytes(&mut cyr));
    let mut sjis = b"a \x8eR\x93c b".to_vec();
    assert!(s.clean_bytes(&mut sjis));
    let mut jis = b"a \x1b$B;3ED\x1b(B b".to_vec();
    assert!(s.clean_bytes(&mut jis));
    assert!(!jis.windows(4).any(|w| w == b";3ED"));
    // Short values only between word boundaries.
    let s = Scrubber::new(["Li"]);
    let mut b = b"xxLIyy LI.".to_vec();
    assert!(s.clean_bytes(&mut b));
    assert_eq!(&b, b"xxLIyy \0\0.");
}
