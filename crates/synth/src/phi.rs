//! The lists of identifying values a fixture or dump plants, which leak tests search for in
//! de-identified output: names with their parts, IDs, dates, institutions.

/// Adds a value (trimmed) unless it is empty or already listed.
pub(crate) fn push_unique(out: &mut Vec<String>, v: &str) {
    let v = v.trim();
    if !v.is_empty() && !out.iter().any(|o| o == v) {
        out.push(v.to_string());
    }
}

/// Pushes a PN value and its family, given and middle name components (split on `^`; prefix
/// and suffix such as "DR" are not identifying and would match everywhere).
pub(crate) fn push_name(out: &mut Vec<String>, name: &str) {
    push_unique(out, name);
    let parts: Vec<&str> = name.split('^').collect();
    push_unique(
        out,
        parts
            .iter()
            .take(3)
            .copied()
            .collect::<Vec<_>>()
            .join("^")
            .trim_end_matches('^'),
    );
    for part in parts.iter().take(3) {
        if part.trim().len() >= 3 {
            push_unique(out, part);
        }
    }
}

/// Adds a value of at least three bytes unless it is already listed.
pub(crate) fn push_phi(out: &mut Vec<String>, v: &str) {
    if v.len() >= 3 && !out.iter().any(|o| o == v) {
        out.push(v.to_string());
    }
}
