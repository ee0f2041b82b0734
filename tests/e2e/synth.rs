//! End-to-end tests of `depot synth`.

#[allow(unused_imports)]
use crate::support::*;
