//! Test helpers and fuzz entry points, available to this crate's tests and, with the
//! `test-utils` feature, to benches, fuzz targets and other crates' tests.

pub mod fuzz;
