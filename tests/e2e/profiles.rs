//! End-to-end tests of `depot profiles`.

#[allow(unused_imports)]
use crate::support::*;
