//! What the engine did to one object: tag paths (with sequence nesting) and actions, for the
//! audit trail and `--dry-run`. Reports never hold old values.

use std::fmt;

use dicom_core::Tag;

use crate::action::Action;

/// One step of a path: an attribute, and for a step through a sequence, the item index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathStep {
    /// The attribute.
    pub tag: Tag,
    /// The item of the sequence `tag` the path continues into (None on the last step).
    pub item: Option<u32>,
}

/// Where an attribute sits: `0008,1140[0]/0008,1155` for a UID inside the first item of
/// Referenced Image Sequence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagPath(pub Vec<PathStep>);

impl TagPath {
    /// The attribute the path ends at.
    pub fn tag(&self) -> Option<Tag> {
        self.0.last().map(|s| s.tag)
    }

    /// How many sequences the attribute is nested in (0 = top level).
    pub fn depth(&self) -> usize {
        self.0.len().saturating_sub(1)
    }
}

impl fmt::Display for TagPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{:04X},{:04X}", step.tag.group(), step.tag.element())?;
            if let Some(item) = step.item {
                write!(f, "[{item}]")?;
            }
        }
        Ok(())
    }
}

/// The path of attribute `tag` in the data set reached by `path`.
pub(crate) fn with_step(path: &[PathStep], tag: Tag) -> TagPath {
    let mut steps = path.to_vec();
    steps.push(PathStep { tag, item: None });
    TagPath(steps)
}

/// What was done to an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Done {
    /// Removed (with everything inside, for a sequence).
    Removed,
    /// Value emptied (a sequence: all items dropped).
    Emptied,
    /// Replaced by a dummy value.
    Dummy,
    /// Kept unchanged (recorded only where a rule asked for it).
    Kept,
    /// Text cleaned of the subject's identifiers (or binary value cleaned byte-wise).
    Cleaned,
    /// Dates shifted by the subject's offset.
    DateShifted,
    /// UIDs replaced by their keyed mapping.
    UidRemapped,
    /// Replaced by the subject's pseudonym or a keyed value code.
    Pseudonymized,
    /// A sequence kept; its items were processed with the profile's rules.
    ItemsProcessed,
    /// Added by the engine (PatientIdentityRemoved and the De-identification Method attributes).
    Added,
}

impl Done {
    /// A short lowercase word for listings.
    pub fn word(self) -> &'static str {
        match self {
            Done::Removed => "removed",
            Done::Emptied => "emptied",
            Done::Dummy => "dummy",
            Done::Kept => "kept",
            Done::Cleaned => "cleaned",
            Done::DateShifted => "date-shifted",
            Done::UidRemapped => "uid-remapped",
            Done::Pseudonymized => "pseudonymized",
            Done::ItemsProcessed => "items-processed",
            Done::Added => "added",
        }
    }
}

/// One entry of a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedAction {
    /// Where the attribute sits.
    pub path: TagPath,
    /// The rule's action code (`None` for attributes the engine adds).
    pub action: Option<Action>,
    /// What was done.
    pub done: Done,
}

impl fmt::Display for AppliedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action {
            Some(a) => write!(f, "{} {} {}", self.path, a, self.done.word()),
            None => write!(f, "{} + {}", self.path, self.done.word()),
        }
    }
}

/// Why an image is suspected to carry identifying text in its pixels (pixels are never cleaned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BurnedInReason {
    /// Burned In Annotation (0028,0301) is YES.
    FlaggedYes,
    /// The modality commonly burns text in (US, SC, XC, ES, OT) and the flag is absent.
    ModalityWithoutFlag(String),
}

impl fmt::Display for BurnedInReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BurnedInReason::FlaggedYes => f.write_str("BurnedInAnnotation is YES"),
            BurnedInReason::ModalityWithoutFlag(m) => {
                write!(
                    f,
                    "modality {m} without BurnedInAnnotation (pixels may hold text)"
                )
            }
        }
    }
}

/// What the engine did to one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Every action taken, in data set order (depth first).
    pub actions: Vec<AppliedAction>,
    /// Set when the pixels may carry burned-in identifying text.
    pub burned_in: Option<BurnedInReason>,
    /// The new SOP Instance UID, when it was remapped.
    pub new_sop_instance_uid: Option<String>,
    /// Things the user should know (for example a missing PatientID).
    pub warnings: Vec<String>,
}
