//! What the walk carries through one object: the subject, what cleaning cuts, how written
//! dates and encoded text are handled, how deep in cleaned sequences it is, and the report of
//! what was done.

use dicom_core::Tag;

use crate::action::Action;
use crate::charset::CodeExtensions;
use crate::clean::Scrubber;
use crate::patterns::WrittenDates;
use crate::report::{AppliedAction, Done, PathStep, Report, with_step};

use super::subject::SubjectContext;

/// Sequences nested deeper than this are refused (hostile or broken files).
pub(super) const MAX_DEPTH: usize = 64;

/// Per-object state while walking.
pub(super) struct Walk<'a> {
    /// The subject of the object.
    pub(super) subject: &'a SubjectContext,
    /// The subject's identifiers: what the safety net beyond the table cuts.
    pub(super) scrubber: Scrubber,
    /// The subject's identifiers and every value the run removes from the object: what C
    /// cuts. `None` when the profile cleans nothing.
    pub(super) cleaner: Option<Scrubber>,
    /// What C does to dates written in text.
    pub(super) dates: WrittenDates,
    /// How text is encoded when the data set uses ISO 2022 code extensions.
    pub(super) ext: Option<CodeExtensions>,
    /// How many sequences with action C the walk is inside.
    pub(super) cleaning: usize,
    /// What was done so far.
    pub(super) report: Report,
}

impl Walk<'_> {
    /// Records that `action` did `done` to `tag` in the data set reached by `path`.
    pub(super) fn record(&mut self, path: &[PathStep], tag: Tag, action: Action, done: Done) {
        self.report.actions.push(AppliedAction {
            path: with_step(path, tag),
            action: Some(action),
            done,
        });
    }
}
