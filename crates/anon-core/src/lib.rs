//! anon-core

#![deny(clippy::print_stdout, clippy::print_stderr)]
