//! `depot serve`: a DICOM Storage SCP filing what senders send into the archive. One line per
//! association on stderr, every failed instance named with its reason, a summary per project
//! when it stops (SIGINT or SIGTERM: open associations finish first; a second signal exits at
//! once). See docs/network.md.
//!
//! Exit codes: 0 stopped cleanly and every instance was stored (or already archived), 1 some
//! instances were refused (rejected, conflicts), 2 it could not start or the archive failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anon_core::Key;
use anyhow::{Context, bail};
use archive::Archive;
use export::incoming::IncomingDeid;
use net::config::{Access, Route, ServeConfig};
use net::scp::{AssociationReport, Ending, InstanceFailure, ServeObserver, ServeSettings, Server};

use crate::Global;
use crate::deid_args::DeidArgs;
use crate::ui;

/// Arguments of `depot serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// TCP port to listen on.
    #[arg(long, default_value_t = 11112)]
    pub port: u16,
    /// Address to listen on (0.0.0.0: every interface).
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR")]
    pub bind: String,
    /// The AE title depot answers to (default: the configuration's, else DEPOT).
    #[arg(long, value_name = "AET")]
    pub aet: Option<String>,
    /// Project every received instance is filed in (without --config).
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub project: Option<String>,
    /// Per calling AE rules (TOML): who may store, into which project, de-identified how.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// De-identify every received instance before storing it (without --config); the
    /// original is never stored.
    #[command(flatten)]
    pub deid: DeidArgs,
    /// With --level/--profile: store instances whose pixels may carry burned-in text anyway.
    #[arg(long)]
    pub include_burned_in: bool,
    /// Accept associations whatever AE title they call.
    #[arg(long)]
    pub any_called_aet: bool,
    /// Abort an association silent for this many seconds.
    #[arg(long, default_value_t = 120, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,
    /// Associations served at once (more are rejected, to be retried by the sender).
    #[arg(long, default_value_t = 64, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub max_associations: u64,
    /// Answer Success before instances are durable (measurement only: a power cut may lose
    /// acknowledged instances).
    #[arg(long, hide = true)]
    pub unsafe_no_fsync: bool,
}

/// Prints what the server does.
struct Log {
    quiet: bool,
}

impl ServeObserver for Log {
    fn listening(&self, addr: std::net::SocketAddr) {
        ui::info(self.quiet, format!("depot: listening on {addr}"));
    }

    fn association_ended(&self, r: &AssociationReport) {
        // A rejected association is shown even when quiet: a sender is misconfigured.
        if self.quiet && r.failed == 0 && !matches!(r.ending, Ending::Rejected(_)) {
            return;
        }
        let who = format!(
            "{} @ {} -> {}",
            if r.calling.is_empty() {
                "?"
            } else {
                &r.calling
            },
            r.peer,
            if r.called.is_empty() { "?" } else { &r.called }
        );
        let project = r
            .project
            .as_deref()
            .map(|p| format!(" [{p}]"))
            .unwrap_or_default();
        let echoes = if r.echoes > 0 {
            format!(
                ", {} echo{}",
                r.echoes,
                if r.echoes == 1 { "" } else { "es" }
            )
        } else {
            String::new()
        };
        eprintln!(
            "{}",
            ui::sanitize(&format!(
                "depot: association {who}{project}: {} instances ({} stored, {} duplicates, {} failed{echoes}), {:.1} MB in {:.2} s; {}",
                r.instances,
                r.stored,
                r.duplicates,
                r.failed,
                r.bytes as f64 / 1e6,
                r.seconds,
                r.ending
            ))
        );
    }

    fn instance_failed(&self, f: &InstanceFailure) {
        ui::problem(
            &f.source,
            format!(
                "{}: {} (status {:04X}H)",
                f.sop_instance_uid, f.reason, f.status
            ),
        );
    }

    fn warning(&self, source: &str, message: &str) {
        ui::warn(format!("{source}: {message}"));
    }

    fn error(&self, message: &str) {
        eprintln!("{}", ui::sanitize(&format!("depot: error: {message}")));
    }
}

/// Runs `depot serve`.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => Some(ServeConfig::load(path)?),
        None => None,
    };
    let deid_flags = args.deid.names_a_profile();
    if config.is_some() && (deid_flags || !args.deid.options.is_empty()) {
        bail!("with --config, de-identification is set per calling AE in the configuration");
    }
    if !deid_flags
        && (!args.deid.options.is_empty()
            || args.deid.blank_identifiers
            || args.deid.key_file.is_some()
            || args.include_burned_in)
    {
        bail!(
            "--option, --blank-identifiers, --key-file and --include-burned-in need --level or --profile"
        );
    }
    let aet = args
        .aet
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.aet.clone()))
        .unwrap_or_else(|| "DEPOT".to_string());
    let aet = net::error::check_ae_title(&aet)?;

    let dir = global.archive_dir();
    let archive = Archive::open(&dir)
        .with_context(|| format!("cannot open the archive at {}", ui::path(&dir)))?;
    let archive_key = || -> Result<Key, String> {
        archive
            .secret("deid")
            .map(Key::from_bytes)
            .map_err(|e| e.to_string())
    };
    let access = match &config {
        Some(c) => c.access(&archive_key).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e}",
                args.config
                    .as_deref()
                    .unwrap_or_else(|| "config".as_ref())
                    .display()
            )
        })?,
        None => {
            let profile = if deid_flags {
                Some(args.deid.profile(anon_core::Level::Basic)?)
            } else {
                None
            };
            // `original` changes nothing: instances are stored as received.
            let deid = if let Some(profile) = profile.filter(|p| p.changes_anything()) {
                let key = match args.deid.key(global.quiet)? {
                    Some(k) => k,
                    None => archive_key().map_err(anyhow::Error::msg)?,
                };
                Some(Arc::new(IncomingDeid::new(
                    profile,
                    key,
                    args.include_burned_in,
                )))
            } else {
                None
            };
            Access::Any(Route {
                project: args
                    .project
                    .clone()
                    .unwrap_or_else(|| "default".to_string()),
                deid,
            })
        }
    };
    access
        .check_projects(&archive)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut settings = ServeSettings::new(aet.clone(), access);
    settings.any_called_aet =
        args.any_called_aet || config.as_ref().is_some_and(|c| c.any_called_aet);
    settings.extra_sop_classes = config
        .as_ref()
        .map(|c| c.extra_sop_classes.clone())
        .unwrap_or_default();
    settings.idle_timeout = Duration::from_secs(args.idle_timeout);
    settings.max_associations = usize::try_from(args.max_associations).unwrap_or(64);
    settings.durable = !args.unsafe_no_fsync;

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping exits at once.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .context("cannot install the signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the signal handler")?;
    }
    let addr = if args.bind.contains(':') && !args.bind.starts_with('[') {
        format!("[{}]:{}", args.bind, args.port)
    } else {
        format!("{}:{}", args.bind, args.port)
    };
    let server = Server::bind(&addr)?;
    ui::info(
        global.quiet,
        format!(
            "depot: serving as {aet}, archive {}{}",
            ui::path(archive.root()),
            describe_access(&settings.access)
        ),
    );
    let observer: Arc<dyn ServeObserver> = Arc::new(Log {
        quiet: global.quiet,
    });
    let summary = server.run(&archive, &settings, &stop, observer)?;
    let mut clean = true;
    for r in &summary.runs {
        clean &= r.is_clean();
        ui::info(
            global.quiet,
            format!(
                "depot: stopped; project {}: {} instances received: {} imported, {} duplicates, {} conflicts, {} rejected (run {})",
                r.project,
                r.files_seen,
                r.imported,
                r.duplicates,
                r.conflicts,
                r.rejected,
                r.run_id
            ),
        );
    }
    if summary.runs.is_empty() {
        ui::info(
            global.quiet,
            format!(
                "depot: stopped; {} associations, no instance received",
                summary.associations
            ),
        );
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn describe_access(access: &Access) -> String {
    match access {
        Access::Any(route) => format!(
            "; any calling AE -> project {}{}",
            route.project,
            route
                .deid
                .as_ref()
                .map(|d| format!(", de-identified on receive ({})", d.label()))
                .unwrap_or_default()
        ),
        Access::Listed(map) => {
            let list: Vec<String> = map
                .iter()
                .map(|(ae, r)| {
                    format!(
                        "{ae} -> {}{}",
                        r.project,
                        r.deid
                            .as_ref()
                            .map(|d| format!(" ({})", d.label()))
                            .unwrap_or_default()
                    )
                })
                .collect();
            format!("; {}", list.join(", "))
        }
    }
}
