//! [`CpuTime`]: a criterion measurement of the measuring thread's CPU time.
//!
//! On a shared machine wall time also counts the time other processes hold the core, and
//! swings with their load; CPU time does not (it is what `openssl speed` measures by default).
//! Benches use it with `Criterion::default().with_measurement(CpuTime)`; their
//! `iter_custom` timers use [`thread_cpu_time`] in place of `Instant::now`.

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;

/// The CPU time the calling thread has used so far.
pub fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// A criterion measurement of the thread's CPU time (values are [`Duration`]s).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuTimeFormatter
    }
}

/// Formats CPU nanoseconds as µs and throughputs per CPU second.
struct CpuTimeFormatter;

impl ValueFormatter for CpuTimeFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v /= 1e3);
        "µs (cpu)"
    }

    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let (per, unit) = match *t {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                (n as f64 / 1_048_576.0, "MiB/s (cpu)")
            }
            Throughput::Elements(n) => (n as f64, "elem/s (cpu)"),
        };
        values.iter_mut().for_each(|v| *v = per * 1e9 / *v);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_advances_with_work_and_scales_throughput() {
        let m = CpuTime;
        let start = m.start();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(m.end(start) > Duration::ZERO, "{x}");
        let mut v = [1e9];
        let unit = CpuTimeFormatter.scale_throughputs(1e9, &Throughput::Bytes(1_048_576), &mut v);
        assert_eq!((v[0], unit), (1.0, "MiB/s (cpu)"));
    }
}
