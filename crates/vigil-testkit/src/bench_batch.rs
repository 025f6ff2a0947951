//! The benchmarks' batch: 10,000 stream records of realistic envelopes, as
//! ingest writes them — 100 wearers, record `i` carrying wearer `i % 100`'s
//! `i / 100`-th minute of 5-second readings (12 per record). Deterministic: the
//! same bytes in every run, so figures compare across runs and functions.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use vigil_domain::Envelope;
use vigil_domain::reading::{Activity, Reading};

pub const RECORDS: usize = 10_000;
pub const WEARERS: usize = 100;
pub const PER_RECORD: usize = 12;

/// The batch's envelopes, encoded; the first readings at `start`.
pub fn envelopes(start: DateTime<FixedOffset>, received_at: DateTime<Utc>) -> Vec<Vec<u8>> {
    let mut rng = xorshift(42);
    (0..RECORDS)
        .map(|i| {
            let wearer = i % WEARERS;
            let minute = (i / WEARERS) as i64;
            let readings = (0..PER_RECORD)
                .map(|k| {
                    let ts = start + Duration::seconds(minute * 60 + 5 * k as i64);
                    let mut r = Reading::at(ts, (minute as u64) * PER_RECORD as u64 + k as u64);
                    r.heart_rate_bpm = Some(60 + (rng() % 70) as i64);
                    r.spo2_pct = Some(90 + (rng() % 10) as i64);
                    r.skin_temp_c = Some(33.0 + (rng() % 20) as f64 / 10.0);
                    r.steps = Some((rng() % 12) as i64);
                    r.activity = Some(if rng().is_multiple_of(3) { Activity::Rest } else { Activity::Light });
                    r.worn = Some(!rng().is_multiple_of(50));
                    r.battery_pct = Some(80 - minute.min(60));
                    r.sos = rng().is_multiple_of(5000).then_some(true);
                    r.fall_detected = rng().is_multiple_of(7000).then_some(true);
                    r
                })
                .collect();
            let mut data = serde_json::to_vec(&Envelope {
                v: 1,
                batch_id: format!("c1d2e3f4-0000-4000-8000-{i:012}"),
                part: 0,
                parts: 1,
                device_id: format!("band-{wearer:04}"),
                wearer_id: format!("wearer-{wearer:04}"),
                app_version: "1.4.2".into(),
                received_at,
                readings,
            })
            .unwrap_or_else(|e| panic!("encoding a bench envelope: {e}"));
            // As Lambda's event holds it: decoded from base64 at its exact size
            // (serde_json's doubling would inflate memory measurements).
            data.shrink_to_fit();
            data
        })
        .collect()
}

/// One wearer's uploads as the read-side benchmarks store them: `uploads` envelopes of
/// `per_upload` readings 5 s apart from [`varied_readings`]`(seed)`, back to back from
/// `start` (upload `u`'s first reading at `start + u × per_upload × 5 s`, band counters
/// from 0), each received at `start`.
pub fn wearer_uploads(seed: u64, start: DateTime<Utc>, uploads: i64, per_upload: i64) -> Vec<Envelope> {
    let mut reading = varied_readings(seed);
    (0..uploads)
        .map(|u| Envelope {
            v: 1,
            batch_id: format!("b-{u}"),
            part: 0,
            parts: 1,
            device_id: "band-0001".into(),
            wearer_id: "wearer-0001".into(),
            app_version: "1.4.2".into(),
            received_at: start,
            readings: (0..per_upload)
                .map(|k| {
                    let n = u * per_upload + k;
                    reading((start + Duration::seconds(5 * n)).fixed_offset(), n as u64)
                })
                .collect(),
        })
        .collect()
}

/// A wearer's readings as the read-side benchmarks (care-api's metrics,
/// daily-summary's night) store them: each call gives the reading at `ts` with
/// band counter `seq`, its heart rate, SpO2, skin temperature and steps varying
/// from one deterministic sequence (`seed`), worn, battery at 80 %. Varied values
/// compress as a band's do; constant ones would compress to almost nothing.
pub fn varied_readings(seed: u64) -> impl FnMut(DateTime<FixedOffset>, u64) -> Reading {
    let mut rng = xorshift(seed);
    move |ts, seq| {
        let mut r = Reading::at(ts, seq);
        r.heart_rate_bpm = Some(55 + (rng() % 60) as i64);
        r.spo2_pct = Some(90 + (rng() % 10) as i64);
        r.skin_temp_c = Some(33.0 + (rng() % 20) as f64 / 10.0);
        r.steps = Some((rng() % 12) as i64);
        r.battery_pct = Some(80);
        r.worn = Some(true);
        r
    }
}

/// A tiny deterministic generator.
fn xorshift(mut s: u64) -> impl FnMut() -> u64 {
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

/// What [`interleaved`] measured.
#[derive(Debug, Clone, Copy)]
pub struct Rounds<T> {
    /// The best time of the work, in seconds.
    pub best: f64,
    /// The median of work time / baseline time over the rounds.
    pub ratio: f64,
    /// The last round's output.
    pub output: T,
}

/// Times `work` against `baseline` in `rounds` interleaved rounds, so machine noise
/// hits both alike: the work's best time and the median ratio, the figure that
/// travels between machines. `work`'s output is dropped outside the timing.
///
/// # Panics
/// If `rounds` is 0.
pub fn interleaved<T>(rounds: usize, mut work: impl FnMut() -> T, mut baseline: impl FnMut()) -> Rounds<T> {
    assert!(rounds > 0, "at least one round");
    let (mut best, mut ratios, mut output) = (f64::MAX, Vec::with_capacity(rounds), None);
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        let out = std::hint::black_box(work());
        let w = t.elapsed().as_secs_f64();
        output = Some(out);
        let t = std::time::Instant::now();
        baseline();
        ratios.push(w / t.elapsed().as_secs_f64());
        best = best.min(w);
    }
    ratios.sort_by(f64::total_cmp);
    #[allow(clippy::expect_used, reason = "rounds > 0 was asserted")]
    let output = output.expect("one round ran");
    Rounds { best, ratio: ratios[ratios.len() / 2], output }
}

/// A criterion bench's `main`: under `cargo bench` (which passes `--bench`) it first
/// evaluates `$figures` (the same-run ratio lines); under `cargo test --benches` (one
/// quick run of each benchmark, as `make test` does) only the criterion groups run.
#[macro_export]
macro_rules! bench_main {
    ($figures:expr; $($group:path),+ $(,)?) => {
        fn main() {
            if std::env::args().any(|a| a == "--bench") {
                $figures;
            }
            $($group();)+
            criterion::Criterion::default().configure_from_args().final_summary();
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_rounds_compare_work_with_its_baseline() {
        let spin = |n: u64| (0..n).fold(0u64, |a, i| std::hint::black_box(a ^ i));
        let (mut work_runs, mut base_runs) = (0, 0);
        let rounds = interleaved(
            5,
            || {
                work_runs += 1;
                spin(400_000)
            },
            || {
                base_runs += 1;
                spin(100_000);
            },
        );
        assert_eq!((work_runs, base_runs), (5, 5));
        assert_eq!(rounds.output, spin(400_000));
        assert!(rounds.best > 0.0 && rounds.ratio > 1.0, "4x the work is slower: {rounds:?}");
    }
}
