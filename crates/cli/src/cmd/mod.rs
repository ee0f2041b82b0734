//! One module per subcommand: an `Args` struct and `run(&Global, Args) -> anyhow::Result<ExitCode>`.

pub mod anonymize;
pub mod audit;
pub mod demo;
pub mod discard;
pub mod export;
pub mod import;
pub mod profiles;
pub mod query;
pub mod release;
pub mod review;
pub mod send;
pub mod serve;
pub mod synth;
