//! Paths and names as text that is lossless and safe to print: every file the archive reports
//! is named by its path as text ([`path_text`]), so two different paths never read the same,
//! a path that is not UTF-8 is still named exactly, and no name (a file name, a zip entry name,
//! a value from a header) can drive a terminal with escape sequences or forge a line.

use std::path::Path;

/// A path as text, losslessly: valid UTF-8 as it is, except that a backslash is written `\\`,
/// control characters `\n`, `\t`, `\r`, `\xNN` (C0 and DEL) or `\u{NN}` (C1), and every byte
/// that is not UTF-8 `\xNN`. Two different paths never give the same text, and the text cannot
/// drive a terminal (no escape sequences, no forged lines).
pub fn path_text(p: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        escape_bytes(p.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        // Elsewhere the backslash is the separator and names are (nearly) Unicode.
        let mut out = String::new();
        for c in p.to_string_lossy().chars() {
            match c {
                '\\' => out.push('\\'),
                c => push_escaped(&mut out, c),
            }
        }
        out
    }
}

/// Bytes (a Unix file name, a zip entry's raw name) as text, escaped as in [`path_text`].
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// Text (a decoded zip entry name) escaped as in [`path_text`].
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c => push_control_escaped(out, c),
    }
}

/// Text safe to print on a terminal: control characters (C0, DEL, C1: escape sequences,
/// bells, carriage returns, newlines) become `\n`, `\t`, `\r`, `\xNN` or `\u{NN}`; everything
/// else, backslashes included, is kept (so a path already escaped by [`path_text`] is not
/// escaped twice).
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_control_escaped(&mut out, c);
    }
    out
}

fn push_control_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c.is_control() && u32::from(c) < 0x80 => {
            out.push_str(&format!("\\x{:02X}", u32::from(c)));
        }
        c if c.is_control() => out.push_str(&format!("\\u{{{:X}}}", u32::from(c))),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn path_text_is_lossless_and_printable() {
        assert_eq!(
            escape_bytes(b"/d/plain \xc3\xbc.dcm"),
            "/d/plain \u{fc}.dcm"
        );
        assert_eq!(escape_bytes(b"n\xff"), "n\\xFF");
        assert_eq!(
            escape_bytes(b"n\\xFF"),
            "n\\\\xFF",
            "a backslash is escaped too"
        );
        assert_eq!(
            escape_bytes(b"a\nb\tc\rd\x1b\x7f"),
            "a\\nb\\tc\\rd\\x1B\\x7F"
        );
        assert_eq!(escape_text("c1\u{85}"), "c1\\u{85}");
        let all: Vec<String> = (0..=255u8).map(|b| escape_bytes(&[b])).collect();
        let distinct: BTreeSet<&String> = all.iter().collect();
        assert_eq!(distinct.len(), 256, "every byte has its own text");
        assert!(all.iter().all(|t| !t.chars().any(char::is_control)));
    }
}
