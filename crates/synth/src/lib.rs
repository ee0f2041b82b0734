//! synth

#![deny(clippy::print_stdout, clippy::print_stderr)]
