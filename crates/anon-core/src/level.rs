//! The built-in de-identification levels and the PS3.15 options (plus dcm4chee's patient ID
//! hash option), with the names users type and the CID 7050 codes written into the files.

use std::fmt;
use std::str::FromStr;

use crate::error::ProfileError;

/// A built-in de-identification level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// No change at all (files are copied byte for byte).
    Original,
    /// NiDB's default: five person attributes; dates, locations, IDs and UIDs kept.
    Anonymize,
    /// NiDB's full list and the whole PS3.15 Basic Profile, plus rules beyond the table.
    AnonymizeFull,
    /// The PS3.15 Basic Profile, Table E.1-1 only.
    Basic,
    /// The QMENTA platform's tag table (seed 002) as written.
    Qmenta,
    /// The Supplement 142 based tag list of seed 004 as written.
    Sup142,
}

impl Level {
    /// Every level, in the order `depot profiles` lists them.
    pub const ALL: [Level; 6] = [
        Level::Original,
        Level::Anonymize,
        Level::AnonymizeFull,
        Level::Basic,
        Level::Qmenta,
        Level::Sup142,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Level::Original => "original",
            Level::Anonymize => "anonymize",
            Level::AnonymizeFull => "anonymize-full",
            Level::Basic => "basic",
            Level::Qmenta => "qmenta",
            Level::Sup142 => "sup142",
        }
    }

    /// One line describing the level.
    pub fn summary(self) -> &'static str {
        match self {
            Level::Original => "no change at all; files copied byte for byte",
            Level::Anonymize => {
                "NiDB default: PatientName -> pseudonym; referring/performing physician, operators, birth date emptied; nothing else changes"
            }
            Level::AnonymizeFull => {
                "NiDB full list + all 656 rows of PS3.15 2026c Basic Profile + VR rules beyond the table; PatientID -> pseudonym"
            }
            Level::Basic => {
                "PS3.15 2026c Basic Application Level Confidentiality Profile (Table E.1-1 only)"
            }
            Level::Qmenta => {
                "QMENTA's published tag table (seed 002) as written; other attributes kept"
            }
            Level::Sup142 => {
                "the 43 tags listed by seed 004 (Sup 142 based) with their Basic actions; other attributes kept; does not remove identity"
            }
        }
    }

    /// Whether this level writes files different from the input (false for `original`):
    /// the one place that decides it ([`crate::Profile::changes_anything`] asks it).
    pub fn rewrites_files(self) -> bool {
        self != Level::Original
    }

    /// Whether options may be added (only on top of the Basic Profile).
    pub fn takes_options(self) -> bool {
        matches!(self, Level::Basic | Level::AnonymizeFull)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        Level::ALL
            .into_iter()
            .find(|l| l.name() == t)
            .or(match t.as_str() {
                "full" | "anonymize-complete" => Some(Level::AnonymizeFull),
                "light" => Some(Level::Anonymize),
                "none" => Some(Level::Original),
                _ => None,
            })
            .ok_or_else(|| ProfileError::UnknownLevel {
                name: s.to_string(),
            })
    }
}

/// A PS3.15 Annex E option (E.3.3 to E.3.11), or dcm4chee's Retain Patient ID Hash option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeidOption {
    /// E.3.10 Retain Safe Private Option (113111).
    RetainSafePrivate,
    /// E.3.9 Retain UIDs Option (113110).
    RetainUids,
    /// E.3.8 Retain Device Identity Option (113109).
    RetainDeviceIdentity,
    /// E.3.11 Retain Institution Identity Option (113112).
    RetainInstitutionIdentity,
    /// E.3.7 Retain Patient Characteristics Option (113108).
    RetainPatientCharacteristics,
    /// E.3.6 Retain Longitudinal Temporal Information With Full Dates Option (113106).
    RetainLongitudinalFullDates,
    /// E.3.6 Retain Longitudinal Temporal Information With Modified Dates Option (113107).
    RetainLongitudinalModifiedDates,
    /// E.3.5 Clean Descriptors Option (113105).
    CleanDescriptors,
    /// E.3.4 Clean Structured Content Option (113104).
    CleanStructuredContent,
    /// E.3.3 Clean Graphics Option (113103).
    CleanGraphics,
    /// dcm4chee's Retain Patient ID Hash Option (proprietary; no DCM code).
    RetainPatientIdHash,
}

impl DeidOption {
    /// Every option; the first ten in the column order of Table E.1-1.
    pub const ALL: [DeidOption; 11] = [
        DeidOption::RetainSafePrivate,
        DeidOption::RetainUids,
        DeidOption::RetainDeviceIdentity,
        DeidOption::RetainInstitutionIdentity,
        DeidOption::RetainPatientCharacteristics,
        DeidOption::RetainLongitudinalFullDates,
        DeidOption::RetainLongitudinalModifiedDates,
        DeidOption::CleanDescriptors,
        DeidOption::CleanStructuredContent,
        DeidOption::CleanGraphics,
        DeidOption::RetainPatientIdHash,
    ];

    /// depot's kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            DeidOption::RetainSafePrivate => "retain-safe-private",
            DeidOption::RetainUids => "retain-uids",
            DeidOption::RetainDeviceIdentity => "retain-device-identity",
            DeidOption::RetainInstitutionIdentity => "retain-institution-identity",
            DeidOption::RetainPatientCharacteristics => "retain-patient-characteristics",
            DeidOption::RetainLongitudinalFullDates => "retain-longitudinal-full-dates",
            DeidOption::RetainLongitudinalModifiedDates => "retain-longitudinal-modified-dates",
            DeidOption::CleanDescriptors => "clean-descriptors",
            DeidOption::CleanStructuredContent => "clean-structured-content",
            DeidOption::CleanGraphics => "clean-graphics",
            DeidOption::RetainPatientIdHash => "retain-patient-id-hash",
        }
    }

    /// dcm4chee's name for the option (also accepted on input).
    pub fn dcm4chee_name(self) -> &'static str {
        match self {
            DeidOption::RetainSafePrivate => "RetainSafePrivateOption",
            DeidOption::RetainUids => "RetainUIDsOption",
            DeidOption::RetainDeviceIdentity => "RetainDeviceIdentityOption",
            DeidOption::RetainInstitutionIdentity => "RetainInstitutionIdentityOption",
            DeidOption::RetainPatientCharacteristics => "RetainPatientCharacteristicsOption",
            DeidOption::RetainLongitudinalFullDates => {
                "RetainLongitudinalTemporalInformationFullDatesOption"
            }
            DeidOption::RetainLongitudinalModifiedDates => {
                "RetainLongitudinalTemporalInformationModifiedDatesOption"
            }
            DeidOption::CleanDescriptors => "CleanDescriptorsOption",
            DeidOption::CleanStructuredContent => "CleanStructuredContentOption",
            DeidOption::CleanGraphics => "CleanGraphicsOption",
            DeidOption::RetainPatientIdHash => "RetainPatientIDHashOption",
        }
    }

    /// The CID 7050 code value (scheme DCM), or `None` for dcm4chee's proprietary option.
    pub fn code(self) -> Option<&'static str> {
        match self {
            DeidOption::RetainSafePrivate => Some("113111"),
            DeidOption::RetainUids => Some("113110"),
            DeidOption::RetainDeviceIdentity => Some("113109"),
            DeidOption::RetainInstitutionIdentity => Some("113112"),
            DeidOption::RetainPatientCharacteristics => Some("113108"),
            DeidOption::RetainLongitudinalFullDates => Some("113106"),
            DeidOption::RetainLongitudinalModifiedDates => Some("113107"),
            DeidOption::CleanDescriptors => Some("113105"),
            DeidOption::CleanStructuredContent => Some("113104"),
            DeidOption::CleanGraphics => Some("113103"),
            DeidOption::RetainPatientIdHash => None,
        }
    }

    /// The code meaning of [`DeidOption::code`] (CID 7050).
    pub fn code_meaning(self) -> &'static str {
        match self {
            DeidOption::RetainSafePrivate => "Retain Safe Private Option",
            DeidOption::RetainUids => "Retain UIDs Option",
            DeidOption::RetainDeviceIdentity => "Retain Device Identity Option",
            DeidOption::RetainInstitutionIdentity => "Retain Institution Identity Option",
            DeidOption::RetainPatientCharacteristics => "Retain Patient Characteristics Option",
            DeidOption::RetainLongitudinalFullDates => {
                "Retain Longitudinal Temporal Information Full Dates Option"
            }
            DeidOption::RetainLongitudinalModifiedDates => {
                "Retain Longitudinal Temporal Information Modified Dates Option"
            }
            DeidOption::CleanDescriptors => "Clean Descriptors Option",
            DeidOption::CleanStructuredContent => "Clean Structured Content Option",
            DeidOption::CleanGraphics => "Clean Graphics Option",
            DeidOption::RetainPatientIdHash => "Retain Patient ID Hash Option",
        }
    }

    /// The option's column in Table E.1-1 (0-based among the ten option columns), if any.
    pub(crate) fn column(self) -> Option<usize> {
        DeidOption::ALL[..10].iter().position(|o| *o == self)
    }
}

impl fmt::Display for DeidOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DeidOption {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let squash = |x: &str| {
            x.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let wanted = squash(t);
        let wanted_no_suffix = wanted.strip_suffix("option").unwrap_or(&wanted).to_string();
        DeidOption::ALL
            .into_iter()
            .find(|o| {
                squash(o.name()) == wanted_no_suffix
                    || squash(o.dcm4chee_name()) == wanted
                    || squash(o.dcm4chee_name()) == format!("{wanted_no_suffix}option")
            })
            .or(match wanted_no_suffix.as_str() {
                "retainlongitudinal" | "retainlongitudinaltemporalinformationfulldates" => {
                    Some(DeidOption::RetainLongitudinalFullDates)
                }
                "retainlongitudinaltemporalinformationmodifieddates" => {
                    Some(DeidOption::RetainLongitudinalModifiedDates)
                }
                _ => None,
            })
            .ok_or_else(|| ProfileError::UnknownOption {
                name: t.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_display_kebab() {
        for l in Level::ALL {
            assert_eq!(l.to_string().parse::<Level>().ok(), Some(l));
        }
        assert_eq!(
            "ANONYMIZE_FULL".parse::<Level>().ok(),
            Some(Level::AnonymizeFull)
        );
        assert!("secret".parse::<Level>().is_err());
    }

    #[test]
    fn options_accept_kebab_and_dcm4chee_names() {
        for o in DeidOption::ALL {
            assert_eq!(o.name().parse::<DeidOption>().ok(), Some(o), "{o}");
            assert_eq!(o.dcm4chee_name().parse::<DeidOption>().ok(), Some(o), "{o}");
        }
        assert_eq!(
            "RetainDeviceIdentityOption".parse::<DeidOption>().ok(),
            Some(DeidOption::RetainDeviceIdentity)
        );
        assert_eq!(
            "retain-uids".parse::<DeidOption>().ok(),
            Some(DeidOption::RetainUids)
        );
        assert!("retain-everything".parse::<DeidOption>().is_err());
    }

    #[test]
    fn codes_are_cid_7050() {
        assert_eq!(DeidOption::CleanGraphics.code(), Some("113103"));
        assert_eq!(DeidOption::RetainInstitutionIdentity.code(), Some("113112"));
        assert_eq!(DeidOption::RetainPatientIdHash.code(), None);
        assert_eq!(DeidOption::CleanGraphics.column(), Some(9));
        assert_eq!(DeidOption::RetainPatientIdHash.column(), None);
    }
}
