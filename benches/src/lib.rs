//! Criterion benchmarks of vwifi live in `benches/`; this library is empty.
