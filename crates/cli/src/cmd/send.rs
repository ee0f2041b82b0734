//! `depot send --to HOST:PORT --aet CALLED [--level L ...] [selection]`: sends archived
//! instances to a DICOM node (Storage SCU), de-identified exactly as `depot export` would write
//! them: the same engine, regrouping check and audit run on a temporary package before
//! anything leaves. A progress bar while sending, every refused instance named with its
//! status, a summary line.
//!
//! Exit codes: 0 every instance was accepted, 1 some were refused (or the audit blocked the
//! export: nothing was sent), 2 the peer could not be reached or another fatal error.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use archive::Archive;
use export::pipeline::{ExportError, ExportRequest};
use net::NetError;
use net::scu::{Peer, SendObserver, Sent};
use net::send::SendRequest;

use crate::Global;
use crate::cmd::export::{Bars, Selection};
use crate::deid_args::DeidArgs;
use crate::ui::{self, Progress};

/// Arguments of `depot send`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The peer: HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub to: String,
    /// The peer's AE title (called AE title).
    #[arg(long, value_name = "AET")]
    pub aet: String,
    /// depot's AE title (calling AE title).
    #[arg(long, default_value = "DEPOT", value_name = "AET")]
    pub calling_aet: String,
    #[command(flatten)]
    pub deid: DeidArgs,
    #[command(flatten)]
    pub selection: Selection,
    /// Keep series whose pixels may carry burned-in text at levels that leave them out.
    #[arg(long)]
    pub include_burned_in: bool,
    /// Seconds to wait for the peer (connection, each response).
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

/// The send's progress bar and per-instance failures.
struct Sending {
    quiet: bool,
    bar: std::sync::Mutex<Option<Progress>>,
}

impl SendObserver for Sending {
    fn started(&self, total: u64) {
        *self.bar.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Progress::new(total, "sending", self.quiet));
    }

    fn sent(&self, s: &Sent) {
        let bar = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = bar.as_ref() {
            b.inc(1);
        }
        if let Some(error) = &s.error {
            let line = ui::problem_line(&s.label, &format!("{}: {error}", s.sop_instance_uid));
            match bar.as_ref() {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            }
        }
    }
}

/// Runs `depot send`.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let root = global.archive_dir();
    let archive = Archive::open_existing(&root)
        .with_context(|| format!("cannot open the archive {}", root.display()))?;
    let called = net::error::check_ae_title(&args.aet)?;
    let calling = net::error::check_ae_title(&args.calling_aet)?;
    let profile = args.deid.profile(anon_core::Level::Anonymize)?;
    let req = SendRequest {
        export: ExportRequest {
            selection: args.selection.filter()?,
            key: args.deid.key(global.quiet)?,
            profile,
            out: std::path::PathBuf::new(),
            dry_run: false,
            force: false,
            include_burned_in: args.include_burned_in,
            key_file: args.deid.key_file.clone(),
            // The package is a temporary one, gone once sent: its manifest's checksums are
            // never read.
            checksum: archive::HashAlgorithm::DEFAULT,
            plan_in_memory: super::export::plan_in_memory(),
            uids_in_memory: super::export::uids_in_memory(),
        },
        peer: Peer {
            address: args.to.clone(),
            called_aet: called.clone(),
            calling_aet: calling,
            timeout: Duration::from_secs(args.timeout),
            max_pdu: 1 << 20,
        },
    };
    let bars = Bars::new(global.quiet);
    let sending = Sending {
        quiet: global.quiet,
        bar: std::sync::Mutex::new(None),
    };
    let result = net::send::send(&archive, &req, &bars, &sending);
    bars.done();
    if let Some(b) = sending.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
        b.finish();
    }
    let outcome = match result {
        Ok(o) => o,
        Err(NetError::Findings(summary)) => {
            for f in &summary.findings {
                ui::problem(format!("audit ({})", f.status()), &f.message);
            }
            ui::warn(format!(
                "{} blocking finding(s) in {} audited file(s); nothing was sent (`depot export` of the same selection keeps the package for review)",
                summary
                    .findings
                    .iter()
                    .filter(|f| f.awaits_acceptance())
                    .count(),
                summary.audit.as_ref().map_or(0, |a| a.files)
            ));
            return Ok(ExitCode::from(1));
        }
        Err(NetError::Export(ExportError::Files(failures))) => {
            for f in &failures {
                ui::problem(&f.file, f.reason());
            }
            anyhow::bail!(
                "{} archived file(s) could not be exported; nothing was sent",
                failures.len()
            )
        }
        Err(e) => return Err(e).context("send failed"),
    };
    let e = &outcome.export;
    for w in &e.warnings {
        ui::warn(w);
    }
    for b in &e.burned_in {
        let what = if b.included {
            "included despite"
        } else {
            "left out for"
        };
        ui::warn(format!(
            "series {} ({}) {what} possible burned-in text: {}",
            b.archive_series, b.modality, b.reason
        ));
    }
    if let Some(a) = &e.audit
        && !a.is_clean()
    {
        for f in &a.findings {
            ui::problem("audit (advisory)", f);
        }
    }
    let s = &outcome.sent;
    ui::info(
        global.quiet,
        format!(
            "sent {} of {} instances to {} at {} ({} refused{}; {:.1} MB in {:.1} s, {} association{}); level {}",
            s.succeeded + s.warnings,
            s.succeeded + s.warnings + s.failed,
            called,
            args.to,
            s.failed,
            if s.warnings > 0 {
                format!(", {} with warnings", s.warnings)
            } else {
                String::new()
            },
            s.bytes as f64 / 1e6,
            s.seconds,
            s.associations,
            if s.associations == 1 { "" } else { "s" },
            e.profile_name
        ),
    );
    Ok(if s.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
