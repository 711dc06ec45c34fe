//! Criterion benchmarks of vwifi live in `benches/`; this library holds what they share: a
//! criterion measurement of CPU time.

pub mod cpu_time;

pub use cpu_time::{thread_cpu_time, CpuTime};
