//! What the measurements are made of: CPU and memory of a process read from `/proc`, latency
//! percentiles, and the broker's process found by name.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One reading of a process: CPU time used so far and resident memory.
#[derive(Debug, Clone, Copy)]
struct Reading {
    cpu: Duration,
    rss_bytes: u64,
    at: Instant,
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// `pid` as a `/proc` path component (`self` for this process).
fn read(pid: &str, ticks: f64) -> Option<Reading> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces and is closed by the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(Reading { cpu: Duration::from_secs_f64((utime + stime) / ticks), rss_bytes: rss_kb * 1024, at: Instant::now() })
}

/// CPU and memory of one process over a run, sampled every 200 ms.
pub struct Sampler {
    pid: String,
    ticks: f64,
    first: Option<Reading>,
    peak_rss: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

/// What a [`Sampler`] saw.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Average CPU over the run, in percent of one core.
    pub cpu_percent: f64,
    pub rss_start_bytes: u64,
    pub rss_end_bytes: u64,
    pub rss_peak_bytes: u64,
}

impl Usage {
    pub fn to_json(&self) -> Value {
        json!({
            "cpu_percent_of_one_core": round1(self.cpu_percent),
            "rss_start_mb": mb(self.rss_start_bytes),
            "rss_end_mb": mb(self.rss_end_bytes),
            "rss_peak_mb": mb(self.rss_peak_bytes),
        })
    }
}

impl Sampler {
    /// Starts sampling `pid` (`"self"` for this process).
    pub fn start(pid: &str) -> Sampler {
        let ticks = clock_ticks();
        let first = read(pid, ticks);
        let peak_rss = Arc::new(Mutex::new(first.map_or(0, |r| r.rss_bytes)));
        let (p, peak) = (pid.to_owned(), peak_rss.clone());
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Some(r) = read(&p, ticks) {
                    let mut m = peak.lock().unwrap();
                    *m = (*m).max(r.rss_bytes);
                }
            }
        });
        Sampler { pid: pid.to_owned(), ticks, first, peak_rss, task }
    }

    /// Resident memory now.
    pub fn rss_now(&self) -> u64 {
        read(&self.pid, self.ticks).map_or(0, |r| r.rss_bytes)
    }

    /// Stops and reports.
    pub fn finish(self) -> Usage {
        self.task.abort();
        let last = read(&self.pid, self.ticks);
        let peak = *self.peak_rss.lock().unwrap();
        match (self.first, last) {
            (Some(a), Some(b)) => {
                let wall = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
                Usage {
                    cpu_percent: (b.cpu.as_secs_f64() - a.cpu.as_secs_f64()) / wall * 100.0,
                    rss_start_bytes: a.rss_bytes,
                    rss_end_bytes: b.rss_bytes,
                    rss_peak_bytes: peak.max(b.rss_bytes),
                }
            }
            _ => Usage::default(),
        }
    }
}

/// The pid of the one running `furniture-broker`, if there is exactly one.
pub fn find_broker() -> Option<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        if argv0.ends_with(b"furniture-broker") {
            found.push(pid);
        }
    }
    (found.len() == 1).then(|| found[0])
}

/// Percentiles of latencies in microseconds.
pub fn percentiles(samples: &mut [u32]) -> Value {
    if samples.is_empty() {
        return json!(null);
    }
    samples.sort_unstable();
    let at = |p: f64| {
        let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i] as f64 / 1000.0
    };
    json!({
        "samples": samples.len(),
        "p50_ms": round3(at(0.50)),
        "p90_ms": round3(at(0.90)),
        "p99_ms": round3(at(0.99)),
        "p999_ms": round3(at(0.999)),
        "max_ms": round3(*samples.last().unwrap() as f64 / 1000.0),
    })
}

pub fn mb(bytes: u64) -> f64 {
    round1(bytes as f64 / (1024.0 * 1024.0))
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let mut s: Vec<u32> = (1..=1000).map(|i| i * 1000).collect();
        let p = percentiles(&mut s);
        assert_eq!(p["p50_ms"], 500.0);
        assert_eq!(p["p99_ms"], 990.0);
        assert_eq!(p["max_ms"], 1000.0);
        assert_eq!(percentiles(&mut []), Value::Null);
    }

    #[test]
    fn this_process_can_be_read() {
        let r = read("self", clock_ticks()).expect("/proc/self is readable");
        assert!(r.rss_bytes > 0);
    }
}
