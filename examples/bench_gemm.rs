//! GEMM throughput: ferrograd's GEMM against the machine's measured FMA peak, a naive
//! i-k-j loop and the `gemm` crate (features `x86-v4`), all measured in this process.
//!
//! ```sh
//! cargo run --release --example bench_gemm            # the full table
//! cargo run --release --example bench_gemm -- --quick # a fast subset (for CI)
//! cargo run --release --example bench_gemm -- --json  # one JSON object per row
//! ```
//!
//! Every figure is a median over several repetitions; ours and the `gemm` crate are timed
//! alternately (ours, peer, ours, peer, ...) so machine noise hits both alike. The peak is
//! measured by a register-only FMA-throughput probe with the widest vectors available,
//! run on as many threads as the row uses. The naive loop is single-threaded and is shown
//! in both thread rows of a shape (`null` where it would take too long, e.g. 2048³).

use std::hint::black_box;
use std::time::Instant;

use ferrograd::tensor::gemm::{self as fg, MatMut, MatRef};
use ferrograd::tensor::Float;
use serde_json::json;

/// One row of the table.
struct Row {
    dtype: &'static str,
    m: usize,
    k: usize,
    n: usize,
    threads: usize,
    gflops: f64,
    naive_gflops: Option<f64>,
    peer_gflops: f64,
    peak_gflops: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json_out = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    if let Some(bad) = args.iter().find(|a| *a != "--json" && *a != "--quick") {
        eprintln!("bench_gemm: unknown argument {bad:?} (expected --json and/or --quick)");
        std::process::exit(2);
    }

    let squares: &[usize] = if quick {
        &[64, 256, 512]
    } else {
        &[64, 128, 256, 512, 1024, 2048]
    };
    // (m, k, n): the homework's layer products (forward, and the two backward ones) and a
    // wider layer.
    let training = [
        (100, 784, 20),
        (100, 20, 784),
        (784, 100, 20),
        (256, 784, 512),
    ];
    let mut shapes: Vec<(usize, usize, usize)> = squares.iter().map(|&s| (s, s, s)).collect();
    shapes.extend(training);
    let thread_counts = [1usize, 2];

    let mut rows = Vec::new();
    rows.extend(bench_dtype::<f32>(&shapes, &thread_counts, quick));
    rows.extend(bench_dtype::<f64>(&shapes, &thread_counts, quick));
    fg::set_num_threads(0);

    if json_out {
        let arr: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "dtype": r.dtype, "m": r.m, "k": r.k, "n": r.n, "threads": r.threads,
                    "gflops": round2(r.gflops), "naive_gflops": r.naive_gflops.map(round2),
                    "peer_gflops": round2(r.peer_gflops), "peak_gflops": round2(r.peak_gflops),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&arr).expect("serialise"));
        return;
    }

    println!(
        "ferrograd GEMM, kernel {} (available: {}); GFLOP/s, medians; peak = measured FMA peak \
         for that thread count; naive = i-k-j loop, 1 thread; peer = gemm crate 0.19 (x86-v4)",
        fg::kernel(),
        fg::available_kernels()
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{:<5} {:>5} {:>5} {:>5} {:>3} | {:>7} {:>6} | {:>7} {:>6} | {:>7} {:>6} {:>9} | {:>7}",
        "dtype",
        "m",
        "k",
        "n",
        "thr",
        "ours",
        "%peak",
        "naive",
        "%peak",
        "peer",
        "%peak",
        "ours/peer",
        "peak"
    );
    for r in &rows {
        let pct = |g: f64| 100.0 * g / r.peak_gflops;
        let (naive, naive_pct) = match r.naive_gflops {
            Some(g) => (format!("{g:.2}"), format!("{:.1}", pct(g))),
            None => ("null".to_string(), "-".to_string()),
        };
        println!(
            "{:<5} {:>5} {:>5} {:>5} {:>3} | {:>7.2} {:>6.1} | {:>7} {:>6} | {:>7.2} {:>6.1} {:>9.2} | {:>7.2}",
            r.dtype,
            r.m,
            r.k,
            r.n,
            r.threads,
            r.gflops,
            pct(r.gflops),
            naive,
            naive_pct,
            r.peer_gflops,
            pct(r.peer_gflops),
            r.gflops / r.peer_gflops,
            r.peak_gflops
        );
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Element types the benchmark runs, with their FMA peak probe.
trait BenchFloat: Float {
    const NAME: &'static str;
    /// Runs the register-only FMA probe for `iters` iterations; returns flops done.
    fn fma_probe(iters: usize) -> f64;
}

impl BenchFloat for f32 {
    const NAME: &'static str = "f32";
    fn fma_probe(iters: usize) -> f64 {
        probe::run(iters, false)
    }
}

impl BenchFloat for f64 {
    const NAME: &'static str = "f64";
    fn fma_probe(iters: usize) -> f64 {
        probe::run(iters, true)
    }
}

fn bench_dtype<T: BenchFloat>(
    shapes: &[(usize, usize, usize)],
    thread_counts: &[usize],
    quick: bool,
) -> Vec<Row> {
    let peaks: Vec<f64> = thread_counts.iter().map(|&t| peak_gflops::<T>(t)).collect();
    let mut rows = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        T::from_f64((seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
    };
    for &(m, k, n) in shapes {
        let a: Vec<T> = (0..m * k).map(|_| rnd()).collect();
        let b: Vec<T> = (0..k * n).map(|_| rnd()).collect();
        let mut c = vec![T::ZERO; m * n];
        let mut c_peer = vec![T::ZERO; m * n];
        let flops = 2.0 * (m * n * k) as f64;
        let samples = if quick { 5 } else { 9 };

        // The naive loop only where it takes at most about a second in total.
        let naive = (m * n * k <= 1 << 30).then(|| {
            let reps = if m * n * k >= 1 << 27 {
                1
            } else {
                samples.min(5)
            };
            let t = median_secs(reps, flops, || naive_ikj(m, k, n, &a, &b, &mut c));
            flops / t / 1e9
        });

        for (ti, &threads) in thread_counts.iter().enumerate() {
            fg::set_num_threads(threads);
            let (ours, peer) = interleaved(
                samples,
                flops,
                || {
                    fg::gemm(
                        T::ONE,
                        MatRef::new(&a, m, k),
                        MatRef::new(&b, k, n),
                        T::ZERO,
                        MatMut::new(&mut c, m, n),
                    )
                },
                || peer_gemm(m, k, n, &a, &b, &mut c_peer, threads),
            );
            // Both computed the same product: a cheap guard against benchmarking garbage.
            let tol = T::from_f64(1e-3 * (k as f64).sqrt());
            assert!(
                c.iter().zip(&c_peer).all(|(&x, &y)| (x - y).abs() <= tol),
                "ours and the gemm crate disagree on {m}x{k}x{n}"
            );
            rows.push(Row {
                dtype: T::NAME,
                m,
                k,
                n,
                threads,
                gflops: flops / ours / 1e9,
                naive_gflops: naive,
                peer_gflops: flops / peer / 1e9,
                peak_gflops: peaks[ti],
            });
        }
    }
    rows
}

/// How many calls make one timed sample of at least ~20 ms (small products are batched,
/// so a sample measures back-to-back calls, as in training, and one slow wake-up of a
/// pool thread after the other library's batch does not dominate it).
fn batch_for(flops: f64) -> usize {
    // Assume ~50 GFLOP/s for sizing only.
    ((20e-3 * 50e9 / flops).ceil() as usize).clamp(1, 1_000_000)
}

/// Median seconds per call of `f` over `samples` samples.
fn median_secs(samples: usize, flops: f64, mut f: impl FnMut()) -> f64 {
    let batch = batch_for(flops);
    f(); // warm-up: page faults, packing buffers, thread pool
    let mut v: Vec<f64> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                f();
            }
            t.elapsed().as_secs_f64() / batch as f64
        })
        .collect();
    median(&mut v)
}

/// Median seconds per call of `f` and `g`, sampled alternately.
fn interleaved(samples: usize, flops: f64, mut f: impl FnMut(), mut g: impl FnMut()) -> (f64, f64) {
    let batch = batch_for(flops);
    f();
    g();
    let (mut tf, mut tg) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        tf.push(t.elapsed().as_secs_f64() / batch as f64);
        let t = Instant::now();
        for _ in 0..batch {
            g();
        }
        tg.push(t.elapsed().as_secs_f64() / batch as f64);
    }
    (median(&mut tf), median(&mut tg))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|x, y| x.total_cmp(y));
    v[v.len() / 2]
}

/// The textbook i-k-j loop on row-major data (vectorisable inner loop).
fn naive_ikj<T: Float>(m: usize, k: usize, n: usize, a: &[T], b: &[T], c: &mut [T]) {
    for i in 0..m {
        let crow = &mut c[i * n..(i + 1) * n];
        crow.fill(T::ZERO);
        for p in 0..k {
            let aip = a[i * k + p];
            for (x, &y) in crow.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *x += aip * y;
            }
        }
    }
    black_box(c);
}

/// The `gemm` crate on the same row-major data (its `dst = alpha·dst + beta·lhs·rhs`).
fn peer_gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
    threads: usize,
) {
    let par = if threads == 1 {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads)
    };
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // SAFETY: the three buffers hold dense row-major m×k, k×n and m×n matrices (asserted),
    // c does not alias a or b, and read_dst = false so c's contents are not read.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            T::ZERO,
            T::ONE,
            false,
            false,
            false,
            par,
        )
    }
}

/// Measured FMA peak in GFLOP/s on `threads` threads running the probe at once.
fn peak_gflops<T: BenchFloat>(threads: usize) -> f64 {
    let iters = 2_000_000;
    T::fma_probe(iters / 10); // warm up (clocks ramp)
    let mut v: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let flops: f64 = std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads)
                    .map(|_| s.spawn(|| T::fma_probe(iters)))
                    .collect();
                hs.into_iter()
                    .map(|h| h.join().expect("probe thread"))
                    .sum()
            });
            flops / t.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    // The best sample is the closest to the hardware's capability.
    v.sort_by(|x, y| x.total_cmp(y));
    v[v.len() - 1]
}

mod probe {
    //! Register-only FMA throughput: independent chains of `acc = acc * x + y`, enough of
    //! them to cover FMA latency × FMA pipes, with the widest vectors the CPU has.

    use std::hint::black_box;

    /// Runs the probe; returns the flops performed.
    pub fn run(iters: usize, f64_: bool) -> f64 {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F is available (checked just above).
                return unsafe { x86::avx512(iters, f64_) };
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: AVX2 and FMA are available (checked just above).
                return unsafe { x86::avx2(iters, f64_) };
            }
        }
        scalar(iters, f64_)
    }

    /// Portable fallback: 8 independent scalar multiply-add chains.
    fn scalar(iters: usize, f64_: bool) -> f64 {
        let x = black_box(0.999_999_f64);
        let y = black_box(1e-6_f64);
        let mut acc = [1.0f64; 8];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = a.mul_add(x, y);
            }
        }
        black_box(acc);
        let _ = f64_;
        (iters * 8 * 2) as f64
    }

    #[cfg(target_arch = "x86_64")]
    mod x86 {
        use std::arch::x86_64::*;
        use std::hint::black_box;

        /// 12 chains of 256-bit FMAs (≥ 2 pipes × 5 cycles latency on Zen 2 / 4 on Intel).
        #[target_feature(enable = "avx2,fma")]
        pub fn avx2(iters: usize, f64_: bool) -> f64 {
            const CH: usize = 12;
            if f64_ {
                let x = _mm256_set1_pd(black_box(0.999_999));
                let y = _mm256_set1_pd(black_box(1e-6));
                let mut acc = [_mm256_set1_pd(1.0); CH];
                for _ in 0..iters {
                    for a in acc.iter_mut() {
                        *a = _mm256_fmadd_pd(*a, x, y);
                    }
                }
                black_box(acc);
                (iters * CH * 4 * 2) as f64
            } else {
                let x = _mm256_set1_ps(black_box(0.999_999));
                let y = _mm256_set1_ps(black_box(1e-6));
                let mut acc = [_mm256_set1_ps(1.0); CH];
                for _ in 0..iters {
                    for a in acc.iter_mut() {
                        *a = _mm256_fmadd_ps(*a, x, y);
                    }
                }
                black_box(acc);
                (iters * CH * 8 * 2) as f64
            }
        }

        /// 16 chains of 512-bit FMAs.
        #[target_feature(enable = "avx512f")]
        pub fn avx512(iters: usize, f64_: bool) -> f64 {
            const CH: usize = 16;
            if f64_ {
                let x = _mm512_set1_pd(black_box(0.999_999));
                let y = _mm512_set1_pd(black_box(1e-6));
                let mut acc = [_mm512_set1_pd(1.0); CH];
                for _ in 0..iters {
                    for a in acc.iter_mut() {
                        *a = _mm512_fmadd_pd(*a, x, y);
                    }
                }
                black_box(acc);
                (iters * CH * 8 * 2) as f64
            } else {
                let x = _mm512_set1_ps(black_box(0.999_999));
                let y = _mm512_set1_ps(black_box(1e-6));
                let mut acc = [_mm512_set1_ps(1.0); CH];
                for _ in 0..iters {
                    for a in acc.iter_mut() {
                        *a = _mm512_fmadd_ps(*a, x, y);
                    }
                }
                black_box(acc);
                (iters * CH * 16 * 2) as f64
            }
        }
    }
}
