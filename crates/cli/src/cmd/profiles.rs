//! `depot profiles` lists the built-in de-identification levels, the options, and the custom
//! TOML profiles in the profile folder; `depot profiles show NAME|FILE [--option O]...` prints
//! every rule of one profile (tag, keyword, action, where the rule comes from) so an IRB can
//! review exactly what will be done, and the coincidences of the audit a custom profile accepts.

use std::fmt::Write as _;
use std::process::ExitCode;

use anon_core::{Action, DeidOption, Level};
use export::profile_store;

use crate::Global;
use crate::ui;

/// Arguments of `depot profiles`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Print every tag a profile touches and its action.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// A level name, a custom profile's name in the profile folder, or a TOML file.
    #[arg(value_name = "NAME|FILE")]
    name: String,
    /// Add an option (kebab-case or dcm4chee name); repeatable.
    #[arg(long = "option", value_name = "OPTION")]
    options: Vec<String>,
    /// Show the rules as they are with --blank-identifiers.
    #[arg(long)]
    blank_identifiers: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `depot profiles`.
pub fn run(_global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        None => list(),
        Some(Sub::Show(show_args)) => show(show_args),
    }
}

/// Writes `text` to stdout (a closed pipe ends the command quietly, see `main`).
fn emit(text: &str) -> anyhow::Result<ExitCode> {
    ui::out(text)?;
    Ok(ExitCode::SUCCESS)
}

fn list() -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    writeln!(out, "Built-in levels:")?;
    for level in Level::ALL {
        writeln!(out, "  {:<15} {}", level.name(), level.summary())?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Options (with basic, anonymize-full and profiles built on them):"
    )?;
    for o in DeidOption::ALL {
        let code = o
            .code()
            .map(|c| format!("DCM {c}"))
            .unwrap_or_else(|| "no DCM code".to_string());
        writeln!(out, "  {:<36} {:<58} {code}", o.name(), o.dcm4chee_name())?;
    }
    writeln!(out)?;
    match profile_store::profile_dir() {
        Some(dir) => {
            let custom = profile_store::list_custom_profiles(&dir);
            writeln!(out, "Custom profiles in {}:", dir.display())?;
            if custom.is_empty() {
                writeln!(out, "  (none)")?;
            }
            for c in custom {
                match &c.profile {
                    Ok(p) => {
                        let opts: Vec<&str> = p.options().iter().map(|o| o.name()).collect();
                        let desc = p
                            .description()
                            .map(|d| format!(" - {d}"))
                            .unwrap_or_default();
                        writeln!(
                            out,
                            "  {:<15} base {}{}{desc}",
                            c.name,
                            p.level(),
                            if opts.is_empty() {
                                String::new()
                            } else {
                                format!(", options {}", opts.join(", "))
                            },
                        )?;
                    }
                    Err(e) => {
                        writeln!(out, "  {:<15} INVALID", c.name)?;
                        ui::warn(e);
                    }
                }
            }
        }
        None => writeln!(
            out,
            "Custom profiles: no profile folder (set DEPOT_PROFILE_DIR)"
        )?,
    }
    emit(&out)
}

fn json_escape(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let options = args
        .options
        .iter()
        .map(|o| o.parse::<DeidOption>())
        .collect::<Result<Vec<_>, _>>()?;
    let mut profile = profile_store::resolve_profile(
        &args.name,
        &options,
        profile_store::profile_dir().as_deref(),
    )?;
    if args.blank_identifiers {
        profile = profile.with_blank_identifiers(true)?;
    }
    let rules = profile.rules();
    if args.json {
        let value = serde_json::json!({
            "name": profile.name(),
            "level": profile.level().name(),
            "options": profile.options().iter().map(|o| o.name()).collect::<Vec<_>>(),
            "digest": profile.digest(),
            "removes_identity": profile.removes_identity(),
            "codes": profile.method_codes().iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            "rules": rules.iter().map(|r| serde_json::json!({
                "tag": r.tag, "keyword": r.keyword, "action": r.action.code(), "source": r.source,
            })).collect::<Vec<_>>(),
            "accept": profile.accepts().iter().map(|a| serde_json::json!({
                "tag": a.tag(), "kind": a.kind(),
            })).collect::<Vec<_>>(),
        });
        return emit(&format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    let opts: Vec<&str> = profile.options().iter().map(|o| o.name()).collect();
    let mut out = String::new();
    writeln!(
        out,
        "# profile {} (level {})",
        json_escape(profile.name()),
        profile.level()
    )?;
    writeln!(
        out,
        "# options: {}",
        if opts.is_empty() {
            "none".to_string()
        } else {
            opts.join(", ")
        }
    )?;
    writeln!(out, "# rules sha256: {}", profile.digest())?;
    writeln!(out, "# {} rules; actions:", rules.len())?;
    for a in Action::ALL {
        writeln!(out, "#   {:<7} {}", a.code(), a.meaning())?;
    }
    writeln!(
        out,
        "{:<24} {:<7} {:<52} SOURCE",
        "TAG", "ACTION", "KEYWORD"
    )?;
    for r in &rules {
        writeln!(
            out,
            "{:<24} {:<7} {:<52} {}",
            r.tag,
            r.action.code(),
            r.keyword,
            r.source
        )?;
    }
    if !profile.accepts().is_empty() {
        writeln!(
            out,
            "# accepted coincidences ([[accept]]): audit findings of this kind at this place do not block the export"
        )?;
        for a in profile.accepts() {
            writeln!(out, "#   {a}")?;
        }
    }
    emit(&out)
}
