//! The workers' duplicate pre-check: a file whose very instance is archived in the run's
//! project is not staged again (the committer still decides, under the write lock).

use super::pipeline::Ctx;
use crate::db::{Db, ExistingInstance};
use crate::grouping::HeaderFacts;

/// Whether the pre-check finds the very same instance archived in this run's project (the same
/// instance archived in another project is a conflict, decided by the committer).
pub(super) fn already_archived(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    facts: &HeaderFacts,
    content_hash: &str,
) -> bool {
    archived_here(ctx, reader, facts).is_some_and(|existing| existing.content_hash == content_hash)
}

/// The instance archived under the file's SOPInstanceUID in this run's project, if any.
pub(super) fn archived_here(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    facts: &HeaderFacts,
) -> Option<ExistingInstance> {
    reader
        .and_then(|db| db.find_instance(&facts.sop_uid).ok().flatten())
        .filter(|existing| existing.project_id == ctx.project_id)
}
