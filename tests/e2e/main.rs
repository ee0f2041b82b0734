//! End-to-end tests: the real `depot` binary run against fixtures built in code.
//!
//! One integration binary (as in ripgrep) keeps link time down. Each area of the product has its
//! own module; `support` holds the temp-dir harness and the command runner.

mod support;

mod anonymize;
mod audit;
mod audit_rules;
mod content_hash;
mod export;
mod import;
mod network;
mod profiles;
mod protocol;
mod quarantine;
mod query;
mod synth;
