//! End-to-end tests of `depot query`.

#[allow(unused_imports)]
use crate::support::*;
