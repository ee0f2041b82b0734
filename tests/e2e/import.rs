//! End-to-end tests of `depot import`.

#[allow(unused_imports)]
use crate::support::*;
