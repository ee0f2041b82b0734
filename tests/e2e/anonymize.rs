//! End-to-end tests of `depot anonymize`.

#[allow(unused_imports)]
use crate::support::*;
