//! What a de-identified file says about how it was de-identified: the De-identification Method
//! values, the CID 7050 codes it may claim, the Longitudinal Temporal Information Modified flag.

use super::{DateMode, Profile};

impl Profile {
    /// The CID 7050 codes (value, meaning) the output may claim. The Basic Profile code only
    /// when the Basic Profile was applied without custom rules that keep more (K or C).
    pub fn method_codes(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.level.takes_options() && !self.custom.values().any(|a| a.retains()) {
            out.push(("113100", "Basic Application Confidentiality Profile"));
            for o in &self.options {
                if let Some(code) = o.code() {
                    out.push((code, o.code_meaning()));
                }
            }
        }
        out
    }

    /// The value of Longitudinal Temporal Information Modified, for Basic-based profiles.
    pub fn longitudinal_flag(&self) -> Option<&'static str> {
        if !self.level.takes_options() {
            return None;
        }
        Some(match self.dates {
            DateMode::Remove => "REMOVED",
            DateMode::Full => "UNMODIFIED",
            DateMode::Modified => "MODIFIED",
        })
    }

    /// The values written to De-identification Method (each at most 64 characters, LO).
    pub fn method_description(&self) -> Vec<String> {
        let mut out = vec![if self.name == self.level.name() {
            format!("depot {}", self.level)
        } else {
            format!("depot profile {} (base {})", self.name, self.level)
        }];
        out.extend(self.options.iter().map(|o| o.name().to_string()));
        if self.blank_identifiers {
            out.push("blank-identifiers".to_string());
        }
        out.push(format!(
            "rules sha256 {}",
            self.digest.get(..16).unwrap_or_default()
        ));
        out.into_iter()
            .map(|s| s.chars().take(64).collect())
            .collect()
    }
}
