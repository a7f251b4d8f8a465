//! GEMM throughput: ferrograd's GEMM against the machine's measured FMA peak, a naive
//! i-k-j loop and (with `--features peer`) the `gemm` crate (features `x86-v4`), all
//! measured in this process.
//!
//! ```sh
//! cargo run --release --features peer --example bench_gemm            # the full table
//! cargo run --release --features peer --example bench_gemm -- --quick # a fast subset (CI)
//! cargo run --release --features peer --example bench_gemm -- --json  # JSON rows
//! cargo run --release --example bench_gemm -- --help
//! ```
//!
//! Without `--features peer` the `gemm` crate is not compiled at all (it is only needed
//! here, and compiling it dominated `cargo test`), and the peer columns are omitted
//! (`null` in JSON).
//!
//! Every figure is a median over several repetitions; ours and the `gemm` crate are timed
//! alternately (ours, peer, ours, peer, ...) so machine noise hits both alike. The peak is
//! measured by a register-resident FMA loop (inline assembly, so no compiler can spill or
//! fold it) in the vector width of the kernel in use, per element type, on as many threads
//! as the row uses, started together behind a barrier; the best of several samples. The
//! naive loop is single-threaded and is shown in both thread rows of a shape (`null` where
//! it would take too long, e.g. 2048³).

use std::hint::black_box;
use std::time::Instant;

use clap::{CommandFactory, ValueEnum};
use course::flags::{count_in, MAX_JOBS};
use ferrograd::tensor::gemm::{self as fg, MatMut, MatRef};
use ferrograd::tensor::Float;
use serde_json::json;

/// One row of the table.
struct Row {
    dtype: &'static str,
    m: usize,
    k: usize,
    n: usize,
    layout: Layout,
    threads: usize,
    gflops: f64,
    naive_gflops: Option<f64>,
    /// `None` without `--features peer`.
    peer_gflops: Option<f64>,
    peak_gflops: f64,
}

/// GEMM throughput against the measured FMA peak, a naive loop and the `gemm` crate.
#[derive(clap::Parser, Debug)]
#[command(
    name = "bench_gemm",
    version,
    about = "GEMM throughput: ferrograd against the measured FMA peak, a naive loop and \
             (with --features peer) the gemm crate"
)]
struct Args {
    /// Print one JSON array of rows (keys: dtype, m, k, n, threads, gflops, naive_gflops,
    /// peer_gflops, peak_gflops) instead of the table.
    #[arg(long)]
    json: bool,
    /// A fast subset of the shapes, with fewer samples (for CI).
    #[arg(long)]
    quick: bool,
    /// Only the shapes whose label (`MxKxN:layout`, e.g. `1024x1024x1024:nn`,
    /// `192x100x784:tn`) contains one of these comma-separated substrings.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Run these shapes instead of the built-in list: comma-separated `MxKxN` or
    /// `MxKxN:layout` (layout nn, nt or tn; default nn), e.g. `--shape 8x8x8,100x784x192:nt`.
    /// Each dimension is at most 65536, and a shape's operands at most 2 GiB in f64.
    #[arg(long, value_delimiter = ',', value_parser = parse_shape)]
    shape: Vec<Shape>,
    /// Send products to the blocked driver even when they are tiny (`gemm::testing`'s
    /// switch for the unpacked small-product loop), to compare the two.
    #[arg(long)]
    no_small_path: bool,
    /// Send products with at most 4 rows or columns (and the last 1-4 columns of wider
    /// `A·Wᵀ` products) to the other paths instead of the AVX-512 or AVX2 skinny loops
    /// (`gemm::testing`'s switch), to compare them.
    #[arg(long)]
    no_skinny_path: bool,
    /// Send narrow products (5 to 24 columns) to the blocked driver instead of the
    /// dot-product loops (AVX-512, or AVX2 for f32; `gemm::testing`'s switch), to compare
    /// them.
    #[arg(long)]
    no_dot_path: bool,
    /// Force the orientation of products on the blocked driver instead of letting the
    /// cost model choose (`gemm::testing`'s switch), to compare the two.
    #[arg(long, value_enum, default_value_t = Orientation::Auto)]
    transposed_c: Orientation,
    /// Thread counts to run (comma-separated, each 1 to 1024).
    #[arg(long, value_delimiter = ',', default_value = "1,2", value_parser = count_in(1, MAX_JOBS))]
    threads: Vec<usize>,
    /// Only this element type.
    #[arg(long, value_enum)]
    dtype: Option<Dtype>,
    /// Samples per figure, 1 to 1000 (default 9, 5 with --quick).
    #[arg(long, value_parser = count_in(1, MAX_SAMPLES))]
    samples: Option<usize>,
    /// Report the best sample instead of the median (on a busy machine noise only ever
    /// slows a sample down, so the best is the closer estimate of what the code can do).
    #[arg(long)]
    best: bool,
    /// Force the per-thread minimum of multiply-adds (instead of the threshold measured at
    /// first use), to see where a second thread starts to pay.
    #[arg(long, value_parser = count_in(1, usize::MAX))]
    min_fmas_per_thread: Option<usize>,
    /// Time the calling thread's on-CPU time (Linux `CLOCK_THREAD_CPUTIME_ID`)
    /// instead of the wall clock: on a shared machine this leaves out the time other
    /// processes held the core. Only meaningful for one-thread rows (the peak probe stays
    /// on the wall clock).
    #[arg(long)]
    cpu_time: bool,
}

/// Whether `--cpu-time` was given (read by the timing helpers).
static CPU_TIME: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// This thread's on-CPU time in seconds: `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` from the
/// C library std already links (`/proc/thread-self/schedstat` would need no FFI, but is
/// only updated at scheduler ticks).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu_seconds() -> f64 {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec (two 64-bit fields on 64-bit Linux).
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu_seconds() -> f64 {
    panic!("--cpu-time is implemented for 64-bit Linux only")
}

/// A timestamp in seconds: wall clock, or this thread's on-CPU time with `--cpu-time`.
fn now() -> f64 {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    if CPU_TIME.load(std::sync::atomic::Ordering::Relaxed) {
        thread_cpu_seconds()
    } else {
        START.get_or_init(Instant::now).elapsed().as_secs_f64()
    }
}

/// How the operands are stored, as in the autoencoder's products: `nn` both row-major;
/// `nt` B used transposed (forward `x·Wᵀ`, W stored out×in); `tn` A used transposed (the
/// weight gradient `gradᵀ·x`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    NN,
    NT,
    TN,
}

/// `(m, k, n, layout)`: C is m×n, the inner dimension k.
type Shape = (usize, usize, usize, Layout);

/// Largest accepted dimension of a `--shape`.
const MAX_DIM: usize = 65_536;
/// Largest memory a `--shape` may take in f64: A, B, and C twice (ours and the peer's).
const MAX_SHAPE_BYTES: usize = 2 << 30;
/// Largest accepted `--samples`.
const MAX_SAMPLES: usize = 1_000;

/// `"MxKxN"` or `"MxKxN:layout"`, checked before any work: a typo or a shape too large
/// for memory is a usage error (exit 2), not a panic or an allocation abort later.
fn parse_shape(s: &str) -> Result<Shape, String> {
    let format = || {
        "expected MxKxN or MxKxN:layout with layout nn, nt or tn (e.g. 100x784x192:nt)".to_string()
    };
    let (dims, layout) = s.split_once(':').unwrap_or((s, "nn"));
    let layout = match layout {
        "nn" => Layout::NN,
        "nt" => Layout::NT,
        "tn" => Layout::TN,
        _ => return Err(format()),
    };
    let d: Vec<usize> = dims
        .split('x')
        .map(|x| x.trim().parse().map_err(|_| format()))
        .collect::<Result<_, _>>()?;
    let [m, k, n] = d[..] else {
        return Err(format());
    };
    if ![m, k, n].iter().all(|x| (1..=MAX_DIM).contains(x)) {
        return Err(format!("expected M, K and N each in 1..={MAX_DIM}"));
    }
    let bytes = (m * k + k * n + 2 * m * n) * std::mem::size_of::<f64>();
    if bytes > MAX_SHAPE_BYTES {
        return Err(format!(
            "its operands need {:.1} GiB in f64; expected at most {} GiB",
            bytes as f64 / f64::from(1 << 30),
            MAX_SHAPE_BYTES >> 30
        ));
    }
    Ok((m, k, n, layout))
}

/// `--transposed-c`: the orientation of products on the blocked driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Orientation {
    /// Compute every product as `Cᵀ = op(B)ᵀ·op(A)ᵀ`.
    On,
    /// Compute none transposed.
    Off,
    /// Let the cost model choose.
    Auto,
}

/// `--dtype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Dtype {
    F32,
    F64,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::NN => "nn",
            Layout::NT => "nt",
            Layout::TN => "tn",
        }
    }
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    course::check_gemm_env();
    let (json_out, quick) = (args.json, args.quick);
    CPU_TIME.store(args.cpu_time, std::sync::atomic::Ordering::Relaxed);
    if let Some(n) = args.min_fmas_per_thread {
        fg::testing::set_min_fmas_per_thread(Some(n));
    }
    let opts = Opts {
        samples: args.samples.unwrap_or(if quick { 5 } else { 9 }),
        best: args.best,
    };

    let squares: &[usize] = if quick {
        &[64, 256, 512]
    } else {
        &[64, 128, 256, 512, 1024, 2048]
    };
    use Layout::*;
    // (m, k, n, layout): a small layer's products (forward, and the two backward ones), a
    // wider layer, then the homework's MNIST autoencoder (batch 100, 784→192→96→192→784:
    // forward x·Wᵀ, input gradient grad·W, weight gradient gradᵀ·x with inner dimension
    // = batch) and its linear probe (200 codes of 96 → 10 classes).
    let training = [
        (100, 784, 20, NN),
        (100, 20, 784, NN),
        (784, 100, 20, NN),
        (256, 784, 512, NN),
        (100, 784, 192, NT),
        (100, 192, 96, NT),
        (100, 96, 192, NT),
        (100, 192, 784, NT),
        (100, 96, 192, NN),
        (100, 192, 96, NN),
        (100, 784, 192, NN),
        (192, 100, 784, TN),
        (96, 100, 192, TN),
        (192, 100, 96, TN),
        (784, 100, 192, TN),
        (200, 96, 10, NT),
        (10, 200, 96, TN),
    ];
    let mut shapes: Vec<Shape> = squares.iter().map(|&s| (s, s, s, NN)).collect();
    if !quick {
        shapes.extend(training);
    } else {
        shapes.extend(&training[..3]);
    }
    if !args.shape.is_empty() {
        shapes = args.shape.clone();
    }
    if args.no_small_path {
        fg::testing::set_small_path(false);
    }
    if args.no_skinny_path {
        fg::testing::set_skinny_path(false);
    }
    if args.no_dot_path {
        fg::testing::set_dot_path(false);
    }
    match args.transposed_c {
        Orientation::Auto => {}
        Orientation::On => fg::testing::set_transposed_c(Some(true)),
        Orientation::Off => fg::testing::set_transposed_c(Some(false)),
    }
    if !args.only.is_empty() {
        let label = |&(m, k, n, l): &Shape| format!("{m}x{k}x{n}:{}", l.name());
        let labels: Vec<String> = shapes.iter().map(label).collect();
        shapes.retain(|s| args.only.iter().any(|o| label(s).contains(o.as_str())));
        if shapes.is_empty() {
            Args::command()
                .error(
                    clap::error::ErrorKind::ValueValidation,
                    format!(
                        "invalid value '{}' for '--only <ONLY>': no shape's label contains it; \
                         expected a part of one of: {}",
                        args.only.join(","),
                        labels.join(", ")
                    ),
                )
                .exit();
        }
    }
    let thread_counts = args.threads.clone();
    let want = |d: Dtype| args.dtype.is_none_or(|x| x == d);

    let mut rows = Vec::new();
    if want(Dtype::F32) {
        rows.extend(bench_dtype::<f32>(&shapes, &thread_counts, opts));
    }
    if want(Dtype::F64) {
        rows.extend(bench_dtype::<f64>(&shapes, &thread_counts, opts));
    }
    fg::set_num_threads(0);

    if json_out {
        let arr: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "dtype": r.dtype, "m": r.m, "k": r.k, "n": r.n, "layout": r.layout.name(),
                    "threads": r.threads,
                    "gflops": round2(r.gflops), "naive_gflops": r.naive_gflops.map(round2),
                    "peer_gflops": r.peer_gflops.map(round2), "peak_gflops": round2(r.peak_gflops),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&arr).expect("serialise"));
        return;
    }

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let c = fg::cache_sizes();
    let (b32, b64) = (fg::blocking::<f32>(), fg::blocking::<f64>());
    println!(
        "ferrograd GEMM on {cpu}, kernel {} (available: {}); GFLOP/s, {}; peak = measured \
         {} FMA peak for that dtype and thread count; naive = i-k-j loop on row-major data, 1 thread; lay = nn, nt (B = Wᵀ), tn (A = gradᵀ); {}",
        fg::kernel(),
        fg::available_kernels()
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
        if args.best {
            "best of the samples"
        } else {
            "medians"
        },
        probe::Isa::of(fg::kernel()).name(),
        if PEER {
            "peer = gemm crate 0.19 (x86-v4)"
        } else {
            "peer: run with --features peer"
        }
    );
    println!(
        "caches ({}): L1d {} KiB, L2 {} KiB, L3 {} KiB shared by {} CPUs; blocking f32 \
         MR×NR {}×{} KC {} MC {} NC {}, f64 MR×NR {}×{} KC {} MC {} NC {}",
        c.source,
        c.l1d >> 10,
        c.l2 >> 10,
        c.l3 >> 10,
        c.l3_sharing,
        b32.mr,
        b32.nr,
        b32.kc,
        b32.mc,
        b32.nc,
        b64.mr,
        b64.nr,
        b64.kc,
        b64.mc,
        b64.nc
    );
    println!(
        "threads: a second one from 2×{:.2} M FMAs f32, 2×{:.2} M f64 (measured hand-off \
         cost × {} / measured single-thread time per FMA)",
        fg::thread_threshold::<f32>() as f64 / 1e6,
        fg::thread_threshold::<f64>() as f64 / 1e6,
        10
    );
    print!(
        "{:<5} {:>5} {:>5} {:>5} {:>3} {:>3} | {:>7} {:>6} | {:>7} {:>6} |",
        "dtype", "m", "k", "n", "lay", "thr", "ours", "%peak", "naive", "%peak"
    );
    if PEER {
        print!(" {:>7} {:>6} {:>9} |", "peer", "%peak", "ours/peer");
    }
    println!(" {:>7}", "peak");
    for r in &rows {
        let pct = |g: f64| 100.0 * g / r.peak_gflops;
        let (naive, naive_pct) = match r.naive_gflops {
            Some(g) => (format!("{g:.2}"), format!("{:.1}", pct(g))),
            None => ("null".to_string(), "-".to_string()),
        };
        print!(
            "{:<5} {:>5} {:>5} {:>5} {:>3} {:>3} | {:>7.2} {:>6.1} | {:>7} {:>6} |",
            r.dtype,
            r.m,
            r.k,
            r.n,
            r.layout.name(),
            r.threads,
            r.gflops,
            pct(r.gflops),
            naive,
            naive_pct
        );
        if let Some(p) = r.peer_gflops {
            print!(" {:>7.2} {:>6.1} {:>9.2} |", p, pct(p), r.gflops / p);
        }
        println!(" {:>7.2}", r.peak_gflops);
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Element types the benchmark runs.
trait BenchFloat: Float {
    const NAME: &'static str;
    const IS_F64: bool;
}

impl BenchFloat for f32 {
    const NAME: &'static str = "f32";
    const IS_F64: bool = false;
}

impl BenchFloat for f64 {
    const NAME: &'static str = "f64";
    const IS_F64: bool = true;
}

/// Sampling options.
#[derive(Clone, Copy)]
struct Opts {
    samples: usize,
    best: bool,
}

fn bench_dtype<T: BenchFloat>(shapes: &[Shape], thread_counts: &[usize], opts: Opts) -> Vec<Row> {
    let isa = probe::Isa::of(fg::kernel());
    let peak = |t: usize| probe::peak_gflops(isa, T::IS_F64, t);
    let peaks: Vec<f64> = thread_counts.iter().map(|&t| peak(t)).collect();
    let mut rows = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        T::from_f64((seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
    };
    for &(m, k, n, layout) in shapes {
        // A is stored m×k (k×m for `tn`), B k×n (n×k for `nt`); either way m·k and k·n.
        let a: Vec<T> = (0..m * k).map(|_| rnd()).collect();
        let b: Vec<T> = (0..k * n).map(|_| rnd()).collect();
        let mut c = vec![T::ZERO; m * n];
        let mut c_peer = vec![T::ZERO; m * n];
        let flops = 2.0 * (m * n * k) as f64;
        let samples = opts.samples;

        // The naive loop (row-major, whatever the layout: it is a reference speed) only
        // where it takes at most about a second in total.
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
            let ours_call = || {
                let av = match layout {
                    Layout::TN => MatRef::new(&a, k, m).t(),
                    _ => MatRef::new(&a, m, k),
                };
                let bv = match layout {
                    Layout::NT => MatRef::new(&b, n, k).t(),
                    _ => MatRef::new(&b, k, n),
                };
                fg::gemm(T::ONE, av, bv, T::ZERO, MatMut::new(&mut c, m, n))
            };
            let (ours, peer) = if PEER {
                let (o, p) = interleaved(samples, opts.best, flops, ours_call, || {
                    peer_gemm(m, k, n, layout, &a, &b, &mut c_peer, threads)
                });
                (o, Some(p))
            } else {
                let mut v = sample_secs(samples, flops, ours_call);
                (pick(&mut v, opts.best), None)
            };
            // Both computed the same product: a cheap guard against benchmarking garbage.
            let tol = T::from_f64(1e-3 * (k as f64).sqrt());
            assert!(
                !PEER || c.iter().zip(&c_peer).all(|(&x, &y)| (x - y).abs() <= tol),
                "ours and the gemm crate disagree on {m}x{k}x{n} {layout:?}"
            );
            rows.push(Row {
                dtype: T::NAME,
                m,
                k,
                n,
                layout,
                threads,
                gflops: flops / ours / 1e9,
                naive_gflops: naive,
                peer_gflops: peer.map(|p| flops / p / 1e9),
                peak_gflops: peaks[ti],
            });
        }
    }
    // The peak again at the end, keeping the better of the two probes: on a shared machine
    // one of them may have run while other work held the core.
    for (ti, &t) in thread_counts.iter().enumerate() {
        let p = peak(t).max(peaks[ti]);
        for r in rows.iter_mut().filter(|r| r.threads == t) {
            r.peak_gflops = p;
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

/// Seconds per call of `f`, one figure per sample.
fn sample_secs(samples: usize, flops: f64, mut f: impl FnMut()) -> Vec<f64> {
    let batch = batch_for(flops);
    f(); // warm-up: page faults, packing buffers, thread pool
    (0..samples)
        .map(|_| {
            let t = now();
            for _ in 0..batch {
                f();
            }
            (now() - t) / batch as f64
        })
        .collect()
}

/// Median seconds per call of `f` over `samples` samples.
fn median_secs(samples: usize, flops: f64, f: impl FnMut()) -> f64 {
    median(&mut sample_secs(samples, flops, f))
}

/// Seconds per call of `f` and `g`, sampled alternately: medians, or the best samples.
fn interleaved(
    samples: usize,
    best: bool,
    flops: f64,
    mut f: impl FnMut(),
    mut g: impl FnMut(),
) -> (f64, f64) {
    let batch = batch_for(flops);
    f();
    g();
    let (mut tf, mut tg) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let t = now();
        for _ in 0..batch {
            f();
        }
        tf.push((now() - t) / batch as f64);
        let t = now();
        for _ in 0..batch {
            g();
        }
        tg.push((now() - t) / batch as f64);
    }
    (pick(&mut tf, best), pick(&mut tg, best))
}

/// The median, or the minimum if `best`.
fn pick(v: &mut [f64], best: bool) -> f64 {
    if best {
        v.iter().copied().fold(f64::INFINITY, f64::min)
    } else {
        median(v)
    }
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

/// Whether the `gemm` crate is compiled in (`--features peer`).
const PEER: bool = cfg!(feature = "peer");

/// Without `--features peer` there is no peer; never called (`PEER` is false).
#[cfg(not(feature = "peer"))]
#[allow(clippy::too_many_arguments)]
fn peer_gemm<T: Float>(
    _: usize,
    _: usize,
    _: usize,
    _: Layout,
    _: &[T],
    _: &[T],
    _: &mut [T],
    _: usize,
) {
    unreachable!("bench_gemm was built without --features peer")
}

/// The `gemm` crate on the same data and layout (its `dst = alpha·dst + beta·lhs·rhs`).
#[cfg(feature = "peer")]
#[allow(clippy::too_many_arguments)]
fn peer_gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    layout: Layout,
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
    // (column stride, row stride) of A and B: A(i, p) = a[i*rs + p*cs].
    let (a_cs, a_rs) = match layout {
        Layout::TN => (m as isize, 1),
        _ => (1, k as isize),
    };
    let (b_cs, b_rs) = match layout {
        Layout::NT => (k as isize, 1),
        _ => (1, n as isize),
    };
    // SAFETY: the three buffers hold dense m×k (or k×m), k×n (or n×k) and m×n matrices
    // (asserted), addressed through the matching strides; c does not alias a or b, and
    // read_dst = false so c's contents are not read.
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
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            T::ZERO,
            T::ONE,
            false,
            false,
            false,
            par,
        )
    }
}

/// Peak probes: register-resident FMA throughput loops, one per kernel ISA.
mod probe {
    use std::hint::black_box;
    use std::sync::Barrier;
    use std::time::Instant;

    use ferrograd::tensor::gemm::Kernel;

    /// The vector ISA whose peak a row is compared with: the one of the kernel in use.
    #[derive(Clone, Copy, Debug)]
    pub enum Isa {
        Avx512,
        Avx2,
        Scalar,
    }

    impl Isa {
        pub fn of(k: Kernel) -> Isa {
            match k {
                Kernel::Avx512 => Isa::Avx512,
                Kernel::Avx2 => Isa::Avx2,
                // NEON and the portable kernel: the scalar multiply-add probe.
                _ => Isa::Scalar,
            }
        }

        pub fn name(self) -> &'static str {
            match self {
                Isa::Avx512 => "AVX-512",
                Isa::Avx2 => "AVX2",
                Isa::Scalar => "scalar",
            }
        }

        /// FMAs (multiply-adds) of `lanes` elements per probe iteration, and `lanes`.
        fn per_iter(self, f64_: bool) -> (usize, usize) {
            let w = if f64_ { 1 } else { 2 };
            match self {
                Isa::Avx512 => (16, 8 * w),
                Isa::Avx2 => (12, 4 * w),
                Isa::Scalar => (8, 1),
            }
        }
    }

    /// Runs `iters` probe iterations; returns the flops done.
    fn run(isa: Isa, f64_: bool, iters: usize) -> f64 {
        let (fmas, lanes) = isa.per_iter(f64_);
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if std::arch::is_x86_feature_detected!("avx512f") => {
                // SAFETY: AVX-512F is available (checked just above).
                unsafe { x86::avx512(iters, f64_) }
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma") =>
            {
                // SAFETY: AVX2 and FMA are available (checked just above).
                unsafe { x86::avx2(iters, f64_) }
            }
            _ => scalar(iters),
        }
        (iters * fmas * lanes * 2) as f64
    }

    /// Measured peak in GFLOP/s of `threads` threads running the probe at once: the
    /// threads are started first and released together by a barrier, and the clock runs
    /// from the release until the last one finishes, so thread start-up is not counted
    /// and the threads really overlap. Best of several samples (the closest to what the
    /// hardware can do; noise only ever slows a sample down).
    pub fn peak_gflops(isa: Isa, f64_: bool, threads: usize) -> f64 {
        // ~8 cycles per iteration: about 20 ms per sample at 3 GHz.
        let iters = 8_000_000;
        run(isa, f64_, iters / 4); // warm-up: clocks ramp, 512-bit units power up
        let mut best = 0.0f64;
        for _ in 0..9 {
            let start = Barrier::new(threads);
            let done = Barrier::new(threads);
            let gflops = std::thread::scope(|s| {
                for _ in 1..threads {
                    s.spawn(|| {
                        start.wait();
                        run(isa, f64_, iters);
                        done.wait();
                    });
                }
                start.wait();
                let t = Instant::now();
                let flops = run(isa, f64_, iters);
                done.wait();
                flops * threads as f64 / t.elapsed().as_secs_f64() / 1e9
            });
            best = best.max(gflops);
        }
        best
    }

    /// Portable fallback: 8 independent scalar multiply-add chains (no `mul_add`, which
    /// is a libm call without hardware FMA; the scalar kernel does not use it either).
    fn scalar(iters: usize) {
        let x = black_box(0.999_999_f64);
        let y = black_box(1e-6_f64);
        let mut acc = [1.0f64; 8];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = *a * x + y;
            }
        }
        black_box(acc);
    }

    /// Inline assembly, so the accumulators provably live in registers (the previous
    /// intrinsics probe left it to the optimiser, and reported about half the real f64
    /// two-thread figure). All registers start at zero: 0·0 + 0 never meets a denormal.
    #[cfg(target_arch = "x86_64")]
    mod x86 {
        use std::arch::asm;

        /// Zeroes the accumulators and the two sources, then runs `iters` rounds of one
        /// FMA into each accumulator: independent chains, so only the FMA pipes limit it.
        /// Written once for every ISA and element type; only the mnemonics and registers
        /// differ.
        macro_rules! fma_chains {
            ($iters:expr, zero = $zero:literal, fma = $fma:literal,
             src = ($s1:tt, $s2:tt), acc = [$($acc:tt),+]) => {
                asm!(
                    $(concat!($zero, " ", $acc, ", ", $acc, ", ", $acc),)+
                    concat!($zero, " ", $s1, ", ", $s1, ", ", $s1),
                    concat!($zero, " ", $s2, ", ", $s2, ", ", $s2),
                    "2:",
                    $(concat!($fma, " ", $acc, ", ", $s1, ", ", $s2),)+
                    "dec {n}",
                    "jnz 2b",
                    n = inout(reg) $iters => _,
                    $(out($acc) _,)+
                    out($s1) _,
                    out($s2) _,
                    options(nostack, nomem),
                )
            };
        }

        /// 16 independent chains of 512-bit FMAs: covers 2 FMA pipes × 4–5 cycles of
        /// latency (Skylake-SP, Ice Lake, Zen 4, Zen 5) with room to spare.
        #[target_feature(enable = "avx512f")]
        pub fn avx512(iters: usize, f64_: bool) {
            if iters == 0 {
                return;
            }
            // SAFETY: only registers are touched (declared as clobbered); AVX-512F is
            // enabled for this function and the caller checked the CPU has it.
            unsafe {
                if f64_ {
                    fma_chains!(
                        iters,
                        zero = "vpxord",
                        fma = "vfmadd231pd",
                        src = ("zmm16", "zmm17"),
                        acc = [
                            "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8",
                            "zmm9", "zmm10", "zmm11", "zmm12", "zmm13", "zmm14", "zmm15"
                        ]
                    );
                } else {
                    fma_chains!(
                        iters,
                        zero = "vpxord",
                        fma = "vfmadd231ps",
                        src = ("zmm16", "zmm17"),
                        acc = [
                            "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8",
                            "zmm9", "zmm10", "zmm11", "zmm12", "zmm13", "zmm14", "zmm15"
                        ]
                    );
                }
            }
        }

        /// 12 independent chains of 256-bit FMAs (2 pipes × 5 cycles on Zen 2, × 4 on
        /// Intel), 14 of the 16 ymm registers.
        #[target_feature(enable = "avx2,fma")]
        pub fn avx2(iters: usize, f64_: bool) {
            if iters == 0 {
                return;
            }
            // SAFETY: only registers are touched (declared as clobbered); AVX2+FMA are
            // enabled for this function and the caller checked the CPU has them.
            unsafe {
                if f64_ {
                    fma_chains!(
                        iters,
                        zero = "vxorpd",
                        fma = "vfmadd231pd",
                        src = ("ymm14", "ymm15"),
                        acc = [
                            "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8",
                            "ymm9", "ymm10", "ymm11"
                        ]
                    );
                } else {
                    fma_chains!(
                        iters,
                        zero = "vxorps",
                        fma = "vfmadd231ps",
                        src = ("ymm14", "ymm15"),
                        acc = [
                            "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8",
                            "ymm9", "ymm10", "ymm11"
                        ]
                    );
                }
            }
        }
    }
}
