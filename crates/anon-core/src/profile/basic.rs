//! The PS3.15 Basic Profile compiled with its options (levels basic and anonymize-full): the
//! table's rows, the option columns that override them, anonymize-full's rows for attributes
//! the table still lacks, and depot's pseudonym rule for PatientID and PatientName.

use dicom_core::Tag;
use dicom_dictionary_std::tags;

use crate::action::Action;
use crate::level::{DeidOption, Level};
use crate::table::{self, TagPattern};

use super::{PrivatePolicy, Profile, RuleEntry, Source};

/// Attributes dcm4che flags as "missing in Part 15" and still absent from 2026c; at
/// anonymize-full they get the action of their sibling row (and its option overrides).
const MISSING_FROM_TABLE: [(Tag, Tag); 7] = [
    // (attribute, sibling row whose actions it copies)
    (
        tags::HUMAN_PERFORMER_CODE_SEQUENCE,
        tags::HUMAN_PERFORMER_NAME,
    ),
    (
        tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE,
        tags::ISSUER_OF_PATIENT_ID,
    ),
    (
        tags::ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE,
        tags::ISSUER_OF_PATIENT_ID,
    ),
    (tags::PATIENT_SIZE_CODE_SEQUENCE, tags::PATIENT_SIZE),
    (
        tags::REQUESTING_PHYSICIAN_IDENTIFICATION_SEQUENCE,
        tags::REQUESTING_PHYSICIAN,
    ),
    (
        tags::REQUESTING_SERVICE_CODE_SEQUENCE,
        tags::REQUESTING_SERVICE,
    ),
    (
        tags::SERIES_DESCRIPTION_CODE_SEQUENCE,
        tags::SERIES_DESCRIPTION,
    ),
];

impl Profile {
    /// The Basic Profile with the selected options (levels basic and anonymize-full).
    pub(super) fn compile_basic(&mut self) {
        let options = self.options.clone();
        let row_action = |basic: Action, per_option: &dyn Fn(DeidOption) -> Option<Action>| {
            let mut chosen: Option<(Action, Source)> = None;
            for o in &options {
                if let Some(a) = per_option(*o) {
                    // Options that disagree on a row (device identity K vs modified dates C):
                    // the cleaning action wins, so the date modification is applied.
                    chosen = match chosen {
                        Some((Action::C, s)) => Some((Action::C, s)),
                        _ => Some((a, Source::Option(*o))),
                    };
                }
            }
            let (action, source) = chosen.unwrap_or((basic, Source::Basic));
            RuleEntry { action, source }
        };
        for row in table::table() {
            let entry = row_action(row.basic, &|o| row.option_action(o));
            match row.pattern {
                TagPattern::Exact(tag) => {
                    self.exact.insert(tag, entry);
                }
                TagPattern::Curve => self.curve = Some(entry),
                TagPattern::Overlay(e) => self.overlay.push((e, entry)),
                TagPattern::Private => {
                    self.private = if entry.action == Action::C {
                        PrivatePolicy::Safe
                    } else {
                        PrivatePolicy::Remove
                    };
                }
            }
        }
        if self.level == Level::AnonymizeFull {
            self.beyond_table = true;
            for (tag, sibling) in MISSING_FROM_TABLE {
                if let Some(row) = table::table()
                    .iter()
                    .find(|r| r.pattern == TagPattern::Exact(sibling))
                {
                    let mut entry = row_action(row.basic, &|o| row.option_action(o));
                    if entry.source == Source::Basic {
                        entry.source = Source::Depot;
                    }
                    self.exact.insert(tag, entry);
                }
            }
        }
        // Identifiers: the subject's pseudonym keeps data regrouping by subject (Z and Z/D both
        // allow a dummy value); --blank-identifiers empties them the NiDB way instead.
        let id_action = if self.blank_identifiers {
            Action::Z
        } else {
            Action::P
        };
        for tag in [tags::PATIENT_ID, tags::PATIENT_NAME] {
            self.exact.insert(
                tag,
                RuleEntry {
                    action: id_action,
                    source: Source::Depot,
                },
            );
        }
        if self.options.contains(&DeidOption::RetainPatientIdHash) {
            let source = Source::Option(DeidOption::RetainPatientIdHash);
            for tag in [tags::PATIENT_ID, tags::ISSUER_OF_PATIENT_ID] {
                self.exact.insert(
                    tag,
                    RuleEntry {
                        action: Action::P,
                        source,
                    },
                );
            }
        }
    }
}
