//! Running a grid of independent training runs in parallel, with results in grid order.
//!
//! A sweep over (model kind, latent size, repeat) is embarrassingly parallel: every run
//! has its own seed ([`run_rng`](super::autoencoder::run_rng) of its index), so its
//! numbers do not depend on which thread ran it or when. [`run`] hands the runs to
//! `--jobs` worker threads and gives the results back in the order of `specs`, so tables
//! and JSON are the same for any `--jobs`.
//!
//! Parallelism comes from running several runs at once, with single-threaded GEMMs: the
//! products of these small models are too small for two threads to pay (see
//! `tensor/src/gemm/threading.rs`), while whole runs share nothing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use ferrograd::tensor::gemm;
use indicatif::{ProgressBar, ProgressStyle};

/// What a finished sweep reports beside its results.
#[derive(Clone, Copy, Debug)]
pub struct SweepStats {
    /// Worker threads used.
    pub jobs: usize,
    /// Wall-clock seconds of the whole sweep.
    pub seconds: f64,
}

/// The worker count for `requested` (`--jobs`), default one per core, never more than
/// there are runs.
pub fn worker_count(requested: Option<usize>, runs: usize) -> usize {
    requested
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, runs.max(1))
}

/// Runs `job(index, spec, progress)` for every spec on `jobs` threads and returns the
/// results in the order of `specs`.
///
/// Runs start in decreasing `cost`, so the cheap ones fill in at the end and the workers
/// finish together (greedy longest-first): each worker takes the next run in that order
/// as soon as it is free. (A rayon parallel iterator would instead cut the list in
/// halves up front — two workers, runs costing [10, 10, 1, 1]: one worker got both
/// 10s.) `ticks` is the progress bar's length; jobs advance it through the bar they are
/// given.
///
/// The first error stops the sweep: runs not yet started are skipped, and of the runs
/// that failed, the earliest in `specs` order is reported — a diverging configuration
/// should end the process with one clear message, not a panic on a worker thread.
pub fn run<S, T, E, F>(
    specs: &[S],
    jobs: usize,
    cost: impl Fn(&S) -> f64,
    ticks: u64,
    job: F,
) -> Result<(Vec<T>, SweepStats), E>
where
    S: Sync,
    T: Send,
    E: Send,
    F: Fn(usize, &S, &ProgressBar) -> Result<T, E> + Sync,
{
    let bar = ProgressBar::new(ticks);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} eta {eta} {msg}")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    // Each cost once: a sort calls its comparison several times per run.
    let costs: Vec<f64> = specs.iter().map(&cost).collect();
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]));

    let failed = AtomicBool::new(false);
    let one = |i: usize| -> (usize, Option<Result<T, E>>) {
        if failed.load(Ordering::Relaxed) {
            return (i, None);
        }
        let result = job(i, &specs[i], &bar);
        if result.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        (i, Some(result))
    };

    let start = Instant::now();
    let mut done: Vec<(usize, Option<Result<T, E>>)> = if jobs <= 1 {
        // One worker: the GEMMs may use every core instead.
        order.into_iter().map(one).collect()
    } else {
        let next = AtomicUsize::new(0);
        let take_runs = || {
            // One core per worker, for this worker's products only.
            gemm::set_num_threads_here(1);
            let mut mine = Vec::new();
            while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                mine.push(one(i));
            }
            mine
        };
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..jobs).map(|_| s.spawn(take_runs)).collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    done.sort_by_key(|(i, _)| *i);
    let mut results = Vec::with_capacity(done.len());
    let mut skipped = false;
    for (_, r) in done {
        match r {
            Some(Ok(t)) => results.push(t),
            Some(Err(e)) => return Err(e),
            None => skipped = true,
        }
    }
    // A skip happens only after a failure, and that failure was returned above.
    debug_assert!(!skipped);
    Ok((results, SweepStats { jobs, seconds }))
}

/// Mean, min and max of `v` (NaN, +inf, -inf when empty).
pub fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gemm_thread_cap_is_one_per_worker_during_a_sweep_and_the_callers_after() {
        gemm::set_num_threads(3);
        let (caps, _) = run(
            &[(), ()],
            2,
            |_| 1.0,
            0,
            |_, _, _| Ok::<_, String>(gemm::num_threads()),
        )
        .unwrap();
        let after = gemm::num_threads();
        gemm::set_num_threads(0);
        assert_eq!(caps, [1, 1]);
        assert_eq!(after, 3);
    }

    #[test]
    fn results_come_back_in_spec_order_for_any_worker_count() {
        let specs: Vec<u64> = (0..20).collect();
        for jobs in [1, 2, 3] {
            let (out, stats) = run(
                &specs,
                jobs,
                |&s| s as f64,
                0,
                |i, &s, _| Ok::<_, String>((i, s * s)),
            )
            .unwrap();
            assert_eq!(stats.jobs, jobs);
            let want: Vec<(usize, u64)> = specs.iter().map(|&s| (s as usize, s * s)).collect();
            assert_eq!(out, want);
        }
    }

    #[test]
    fn a_free_worker_takes_the_next_run_so_the_two_costliest_start_first() {
        // Costs [10, 10, 1, 1] on two workers: the two expensive runs must start first, on
        // different workers. Each waits (up to 20 s) for the other to have started, so no
        // cheap run can slip in between. Cutting the list in halves up front (a rayon
        // parallel iterator) started runs 0 and 2 first, and run 1 only when stolen.
        let starts = std::sync::Mutex::new(Vec::new());
        let costly_started = AtomicUsize::new(0);
        let specs = [10.0, 10.0, 1.0, 1.0];
        run(
            &specs,
            2,
            |&c| c,
            0,
            |i, &c, _| {
                starts.lock().unwrap().push(i);
                if c == 10.0 {
                    costly_started.fetch_add(1, Ordering::SeqCst);
                    let t = Instant::now();
                    while costly_started.load(Ordering::SeqCst) < 2 && t.elapsed().as_secs() < 20 {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
                Ok::<_, String>(())
            },
        )
        .unwrap();
        let mut first_two = starts.lock().unwrap()[..2].to_vec();
        first_two.sort();
        assert_eq!(first_two, [0, 1]);
    }

    #[test]
    fn the_earliest_failure_is_returned() {
        let specs: Vec<usize> = (0..10).collect();
        let err = run(
            &specs,
            2,
            |_| 1.0,
            0,
            |i, _, _| {
                if i >= 4 {
                    Err(format!("run {i} failed"))
                } else {
                    Ok(i)
                }
            },
        )
        .unwrap_err();
        // Run 4 may be skipped if a later one failed first; any reported failure is >= 4.
        let n: usize = err
            .trim_start_matches("run ")
            .trim_end_matches(" failed")
            .parse()
            .unwrap();
        assert!(n >= 4);
    }
}
