//! GEMM against a naive triple loop: every kernel this CPU can run, 1 and 2 threads, both
//! the small-product loops and the packed driver, all transpose combinations, several
//! alpha/beta (beta = 0 over NaN, beta = 1 accumulation), f32 and f64, and a C with
//! `row_stride > cols`. Inputs are small integers, so every result is exact in f32 too
//! (no tolerance needed, whatever the summation order or FMA use).

use std::sync::{Mutex, MutexGuard};

use ferrograd_tensor::gemm::{self, gemm, Kernel, KernelError, MatMut, MatRef};
use ferrograd_tensor::Float;

/// Kernel and thread settings are process-wide: tests that change them take this lock.
static SETTINGS: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    SETTINGS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Restores the default settings when dropped (also on panic).
struct Restore;
impl Drop for Restore {
    fn drop(&mut self) {
        gemm::set_kernel(None);
        gemm::set_num_threads(0);
        gemm::testing::set_small_path(true);
        gemm::testing::set_skinny_path(true);
        gemm::testing::set_dot_path(true);
        gemm::testing::set_min_fmas_per_thread(None);
        gemm::testing::set_blocking(None);
        gemm::testing::set_transposed_c(None);
    }
}

/// Deterministic small integers in -3..=3.
struct Lcg(u64);
impl Lcg {
    fn next<T: Float>(&mut self) -> T {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        T::from_f64(((self.0 >> 33) % 7) as f64 - 3.0)
    }
    fn vec<T: Float>(&mut self, n: usize) -> Vec<T> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// One operand of `op(X)` with shape `rows x cols`, stored transposed if `trans`.
struct Operand<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
    trans: bool,
}

impl<T: Float> Operand<T> {
    fn new(rng: &mut Lcg, rows: usize, cols: usize, trans: bool) -> Self {
        Operand {
            data: rng.vec(rows * cols),
            rows,
            cols,
            trans,
        }
    }
    fn view(&self) -> MatRef<'_, T> {
        if self.trans {
            MatRef::new(&self.data, self.cols, self.rows).t()
        } else {
            MatRef::new(&self.data, self.rows, self.cols)
        }
    }
    fn at(&self, i: usize, j: usize) -> T {
        if self.trans {
            self.data[j * self.rows + i]
        } else {
            self.data[i * self.cols + j]
        }
    }
}

/// The reference: `alpha * op(A) op(B) + beta * C` by the definition (C unread if beta == 0).
fn naive<T: Float>(
    alpha: T,
    a: &Operand<T>,
    b: &Operand<T>,
    beta: T,
    c: &[T],
    ldc: usize,
) -> Vec<T> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut out = c.to_vec();
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::ZERO;
            for p in 0..k {
                acc += a.at(i, p) * b.at(p, j);
            }
            let dst = &mut out[i * ldc + j];
            *dst = if beta == T::ZERO {
                alpha * acc
            } else {
                alpha * acc + beta * *dst
            };
        }
    }
    out
}

const ALPHA_BETA: [(f64, f64); 4] = [(1.0, 0.0), (1.0, 1.0), (2.0, -1.0), (-0.5, 0.5)];

/// Checks one shape under every transpose combination and alpha/beta, for the current
/// settings. `pad` extra columns make `row_stride > cols`; the padding must survive.
fn check_shape<T: Float>(rng: &mut Lcg, m: usize, n: usize, k: usize, pad: usize, ctx: &str) {
    let ldc = n + pad;
    for ta in [false, true] {
        for tb in [false, true] {
            let a = Operand::<T>::new(rng, m, k, ta);
            let b = Operand::<T>::new(rng, k, n, tb);
            for (alpha, beta) in ALPHA_BETA {
                let (alpha, beta) = (T::from_f64(alpha), T::from_f64(beta));
                // ANCHOR: nan_fill
                // beta == 0 must not read C: fill it with NaN (padding with a sentinel).
                let mut c: Vec<T> = if beta == T::ZERO {
                    (0..m * ldc)
                        .map(|x| {
                            if x % ldc < n {
                                T::NAN
                            } else {
                                T::from_f64(7.0)
                            }
                        })
                        .collect()
                } else {
                    rng.vec(m * ldc)
                };
                // ANCHOR_END: nan_fill
                // A MatMut of m rows needs (m-1)*ldc + n elements; give it exactly that.
                let len = if m == 0 { 0 } else { (m - 1) * ldc + n };
                let want = naive(alpha, &a, &b, beta, &c, ldc);
                let cm = MatMut {
                    data: &mut c[..len],
                    rows: m,
                    cols: n,
                    row_stride: ldc,
                };
                gemm(alpha, a.view(), b.view(), beta, cm);
                if c != want {
                    let bad = (0..m * ldc).find(|&x| c[x] != want[x]).unwrap();
                    panic!(
                        "{ctx} {}: m={m} n={n} k={k} ldc={ldc} ta={ta} tb={tb} alpha={alpha} \
                         beta={beta}: C[{}, {}] = {}, want {}",
                        T::DTYPE,
                        bad / ldc,
                        bad % ldc,
                        c[bad],
                        want[bad]
                    );
                }
            }
        }
    }
}

/// Says which kernels a test ran and which it skipped. Written to stderr directly, not
/// through `println!`, because the test harness swallows captured output of passing
/// tests, and which kernels were really exercised is the point (a machine without
/// AVX-512 passes every test without ever running those kernels).
fn report(test: &str, ran: &[Kernel]) {
    use std::io::Write;
    let skipped: Vec<&str> = Kernel::ALL
        .into_iter()
        .filter(|k| !ran.contains(k))
        .map(|k| k.name())
        .collect();
    let ran: Vec<&str> = ran.iter().map(|k| k.name()).collect();
    let _ = writeln!(
        std::io::stderr(),
        "[gemm test {test}] kernels run: {}; skipped (not supported by this CPU/target): {}",
        ran.join(", "),
        if skipped.is_empty() {
            "none".to_string()
        } else {
            skipped.join(", ")
        }
    );
}

// ANCHOR: for_each_config
/// Runs `f` under every kernel the CPU supports × 1 and 2 threads × (small path on, off),
/// and with the small path off, the skinny loops (at most 4 rows or columns, AVX-512)
/// and the dot-product loops (5 to 24 columns, AVX-512) both on and both off, so that
/// every shape also reaches the blocked driver.
#[track_caller]
fn for_each_config(test: &str, mut f: impl FnMut(&str)) {
    let _guard = lock();
    let _restore = Restore;
    let mut ran = Vec::new();
    for kernel in Kernel::ALL {
        if !kernel.is_available() {
            continue;
        }
        gemm::set_kernel(Some(kernel));
        assert_eq!(gemm::kernel(), kernel);
        for threads in [1, 2] {
            gemm::set_num_threads(threads);
            for (small, narrow) in [(true, true), (false, true), (false, false)] {
                gemm::testing::set_small_path(small);
                gemm::testing::set_skinny_path(narrow);
                gemm::testing::set_dot_path(narrow);
                f(&format!(
                    "kernel={kernel} threads={threads} small={small} skinny={narrow} \
                     dot={narrow}"
                ));
            }
        }
        ran.push(kernel);
    }
    report(test, &ran);
}

// ANCHOR_END: for_each_config

/// Whether `for_each_config`'s context names a kernel with its own skinny, last-columns
/// and dot-product loops (AVX-512 or AVX2), which the shapes must then reach.
fn vector_kernel(ctx: &str) -> bool {
    ctx.starts_with("kernel=avx512") || ctx.starts_with("kernel=avx2")
}

#[test]
fn all_small_shapes() {
    // Threads on every product, however small, to exercise the split at the edges.
    let sizes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15, 16, 17, 19];
    let mut rng = Lcg(1);
    for_each_config("all_small_shapes", |ctx| {
        gemm::testing::set_min_fmas_per_thread(Some(1));
        for &m in &sizes {
            for &n in &sizes {
                for &k in &[0, 1, 2, 5, 8, 13, 19] {
                    check_shape::<f32>(&mut rng, m, n, k, 0, ctx);
                    check_shape::<f64>(&mut rng, m, n, k, 0, ctx);
                }
            }
        }
    });
}

#[test]
fn every_shape_below_20_default_kernel() {
    let _guard = lock();
    let _restore = Restore;
    let mut rng = Lcg(2);
    for small in [true, false] {
        gemm::testing::set_small_path(small);
        for m in 0..20 {
            for n in 0..20 {
                for k in 0..20 {
                    check_shape::<f32>(&mut rng, m, n, k, 0, "default");
                }
            }
        }
    }
}

#[test]
fn strided_c_keeps_padding() {
    let mut rng = Lcg(3);
    for_each_config("strided_c_keeps_padding", |ctx| {
        gemm::testing::set_min_fmas_per_thread(Some(1));
        for (m, n, k) in [
            (1, 1, 1),
            (7, 13, 5),
            (13, 17, 19),
            (6, 16, 300),
            (19, 33, 40),
        ] {
            check_shape::<f32>(&mut rng, m, n, k, 3, ctx);
            check_shape::<f64>(&mut rng, m, n, k, 5, ctx);
        }
    });
}

#[test]
fn skinny_products_with_long_inner_dimension() {
    // At most four rows or columns with a long inner dimension, where the driver reads
    // operands in place and pads the last micro-panel: the linear probe's shapes are here,
    // [200, 500]·[500, 2] forward and [2, 200]·[200, 500] for the weight gradient.
    let mut rng = Lcg(9);
    for_each_config("skinny_products_with_long_inner_dimension", |ctx| {
        for (m, n, k) in [
            (200, 2, 500),
            (2, 500, 200),
            (257, 4, 1031),
            (4, 257, 1031),
            (1031, 3, 65),
            (3, 1, 70),
        ] {
            check_shape::<f32>(&mut rng, m, n, k, 2, ctx);
            check_shape::<f64>(&mut rng, m, n, k, 0, ctx);
        }
    });
}

#[test]
fn skinny_loops_every_width_and_depth() {
    // The loops for m ≤ 4 (column blocks of up to 64 f32 / 32 f64 lanes on AVX-512, 32 /
    // 16 on AVX2, masked at the end) and n ≤ 4 (dot products over k, masked at the end):
    // widths and depths on both sides of every vector and block boundary, with a padded
    // C. `check_shape` runs all four layouts (the few-columns loop takes A·Bᵀ, the
    // few-rows loop A·B and Aᵀ·B; the rest go to the driver).
    let mut rng = Lcg(23);
    for_each_config("skinny_loops_every_width_and_depth", |ctx| {
        let runs = gemm::testing::skinny_runs_here();
        let mut routed = 0;
        for few in 1..=4 {
            for wide in [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 129] {
                for k in [1, 3, 8, 16, 17, 40] {
                    check_shape::<f32>(&mut rng, few, wide, k, 3, ctx);
                    check_shape::<f64>(&mut rng, few, wide, k, 1, ctx);
                    check_shape::<f32>(&mut rng, wide, few, k, 2, ctx);
                    check_shape::<f64>(&mut rng, wide, few, k, 0, ctx);
                    // Past the small path's reach (at most 512 multiply-adds on AVX2),
                    // at least one layout of each shape takes the loops, per alpha/beta.
                    if few * wide * k > 512 {
                        routed += 4 * ALPHA_BETA.len();
                    }
                }
            }
        }
        let ran = gemm::testing::skinny_runs_here() - runs;
        if vector_kernel(ctx) && ctx.contains("skinny=true") {
            assert!(
                ran >= routed,
                "{ctx}: {ran} products took the loops, want {routed}"
            );
        } else {
            assert_eq!(
                ran, 0,
                "{ctx}: the loops ran while off or without their ISA"
            );
        }
    });
}

#[test]
fn dot_loops_every_width_and_depth() {
    // The dot-product loops for 5 to 24 columns (`dot.rs`; AVX-512 both types, AVX2 f32):
    // every width they may take (the widths the driver's tiles fit go there: AVX-512 f32
    // 16, f64 16 and 24; AVX2 f32 8, 16 and 24), depths not a multiple of the vector
    // (masked last step), just past the shortest depth a narrow C takes them from, and on
    // both sides of a slice of k (slices of at most 816 f32 / 408 f64 on a 48 KiB L1d:
    // k = 817 and 409 take two, the second accumulated onto C), row counts that are no
    // multiple of any tile height (4, 6), and the two layouts they read: A·Bᵀ (B's
    // columns contiguous, read in place) and A·B (B copied transposed). `check_shape`
    // also runs the layouts with A transposed, which take the driver, with a padded C
    // and beta = 0 over NaN; `check_strided` reads A and B with leading dimensions larger
    // than their rows. Two threads split the rows.
    let mut rng = Lcg(31);
    for_each_config("dot_loops_every_width_and_depth", |ctx| {
        gemm::testing::set_min_fmas_per_thread(Some(1));
        let avx512 = ctx.starts_with("kernel=avx512");
        let runs = gemm::testing::dot_runs();
        let mut routed = 0;
        for n in 5..=24 {
            let (f32_here, f64_here) = if avx512 {
                (usize::from(n != 16), usize::from(n != 16 && n != 24))
            } else {
                (usize::from(n % 8 != 0), 0)
            };
            for (m, k) in [(1, 203), (7, 784), (13, 817)] {
                check_shape::<f32>(&mut rng, m, n, k, 3, ctx);
                // A·Bᵀ and A·B; with one row, A·B takes `skinny`'s few-rows loop instead,
                // and Aᵀ·Bᵀ the dot loops (a transposed single row is contiguous).
                routed += f32_here * 2 * ALPHA_BETA.len();
            }
            for (m, k) in [(5, 101), (11, 409)] {
                check_shape::<f64>(&mut rng, m, n, k, 1, ctx);
                routed += f64_here * 2 * ALPHA_BETA.len();
            }
            // Narrow C takes the loops from a shorter k than the widest (24 columns, whose
            // depth the shapes above cover): one element past its shortest, so the last
            // step is masked.
            let vectors = gemm::testing::dot_min_k_vectors(n);
            if vectors < gemm::testing::dot_min_k_vectors(24) {
                check_shape::<f32>(&mut rng, 6, n, vectors * 16 + 1, 3, ctx);
                check_shape::<f64>(&mut rng, 7, n, vectors * 8 + 1, 1, ctx);
                routed += 2 * ALPHA_BETA.len() * (f32_here + f64_here);
            }
            // A·Bᵀ and A·B with every operand's leading dimension past its rows.
            for (m, k) in [(9, 250), (23, 199)] {
                check_strided::<f32>(&mut rng, (m, n, k), (k + 5, 1), (1, k + 7), ctx);
                check_strided::<f32>(&mut rng, (m, n, k), (k + 5, 1), (n + 3, 1), ctx);
                check_strided::<f64>(&mut rng, (m, n, k), (k + 1, 1), (1, k + 3), ctx);
                check_strided::<f64>(&mut rng, (m, n, k), (k + 1, 1), (n + 1, 1), ctx);
                routed += 2 * f32_here + 2 * f64_here;
            }
        }
        // The shapes must really reach the loops (other tests may add runs meanwhile).
        if vector_kernel(ctx) && ctx.ends_with("dot=true") {
            let ran = gemm::testing::dot_runs() - runs;
            assert!(
                ran >= routed,
                "{ctx}: {ran} products took the dot loops, want {routed}"
            );
        }
        gemm::testing::set_min_fmas_per_thread(None);
    });
}

/// The few-rows loop (m ≤ 4) adds each element's k products in order, one FMA after the
/// other, as the tiles do: AVX-512 and AVX2 give the same bits for every alpha and beta,
/// and the same as the driver's tiles for a plain product (alpha 1, beta 0, k in one
/// slice). Random non-integer data, so that another order would round otherwise.
#[test]
fn few_rows_loop_bits_do_not_depend_on_the_isa() {
    use std::io::Write;
    let _guard = lock();
    let _restore = Restore;
    let mut s = 7u64;
    let mut r = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let isas: Vec<Kernel> = [Kernel::Avx512, Kernel::Avx2]
        .into_iter()
        .filter(|k| k.is_available())
        .collect();
    for (m, k, n) in [(2, 200, 500), (4, 129, 40), (1, 65, 17), (3, 500, 100)] {
        let a: Vec<f32> = (0..m * k).map(|_| r() as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|_| r() as f32).collect();
        let c0: Vec<f32> = (0..m * n).map(|_| r() as f32).collect();
        for (alpha, beta) in [(1.0f32, 0.0f32), (1.0, 1.0), (-0.3, 0.7)] {
            let product = |kernel: Kernel, skinny: bool| {
                gemm::set_kernel(Some(kernel));
                gemm::testing::set_skinny_path(skinny);
                let mut c = c0.clone();
                let (av, bv) = (MatRef::new(&a, m, k), MatRef::new(&b, k, n));
                gemm(alpha, av, bv, beta, MatMut::new(&mut c, m, n));
                c.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            };
            let what = format!("{m}x{k}x{n} alpha={alpha} beta={beta}");
            let runs = gemm::testing::skinny_runs_here();
            let loops: Vec<_> = isas.iter().map(|&isa| product(isa, true)).collect();
            assert_eq!(
                gemm::testing::skinny_runs_here() - runs,
                isas.len(),
                "{what}"
            );
            for (isa, bits) in isas.iter().zip(&loops).skip(1) {
                assert!(bits == &loops[0], "{what}: {isa} and {} differ", isas[0]);
            }
            if (alpha, beta) == (1.0, 0.0) {
                for (&isa, bits) in isas.iter().zip(&loops) {
                    assert!(bits == &product(isa, false), "{what}: {isa} loop vs tiles");
                }
            }
        }
    }
    let names: Vec<&str> = isas.iter().map(|k| k.name()).collect();
    let _ = writeln!(
        std::io::stderr(),
        "[gemm test few_rows_loop_bits_do_not_depend_on_the_isa] vector ISAs this CPU runs, \
         compared: {}",
        names.join(", ")
    );
}

#[test]
fn last_few_columns_take_the_few_columns_loop() {
    // n = q·NR + w with w ≤ 4 (the autoencoder's n = 100): with `A·Bᵀ`'s layout the
    // driver's tiles compute the first q·NR columns and `skinny`'s few-columns loop the
    // last w, onto the same C (`skinny::edge_columns`). Every w from 1 to 4 after one and
    // after several panels (f32 NR = 32, f64 NR = 24), row counts both tile heights fit,
    // depths with a masked last vector; `check_shape` also runs the other layouts (which
    // keep the tiles), a padded C and beta = 0 over NaN. Two threads split the tiles.
    let mut rng = Lcg(41);
    for_each_config("last_few_columns_take_the_few_columns_loop", |ctx| {
        gemm::testing::set_min_fmas_per_thread(Some(1));
        let runs = gemm::testing::edge_runs();
        let mut routed = 0;
        for w in 1..=4 {
            for (m, k) in [(100, 37), (60, 301)] {
                for n in [32 + w, 96 + w] {
                    check_shape::<f32>(&mut rng, m, n, k, 3, ctx);
                    routed += ALPHA_BETA.len();
                }
                for n in [24 + w, 96 + w] {
                    check_shape::<f64>(&mut rng, m, n, k, 1, ctx);
                    routed += ALPHA_BETA.len();
                }
            }
        }
        // Both vector ISAs: their tiles (f32 32 and 16 wide, f64 24 and 8) all leave w.
        if vector_kernel(ctx) && ctx.contains("skinny=true") {
            let ran = gemm::testing::edge_runs() - runs;
            assert!(
                ran >= routed,
                "{ctx}: {ran} products split their last columns off, want {routed}"
            );
        }
        gemm::testing::set_min_fmas_per_thread(None);
    });
}

#[test]
fn tile_height_chosen_by_rows() {
    // m where a shorter tile wastes less than the default one (AVX-512 f32: 14, 12 or 10
    // rows per tile, chosen by m), and the autoencoder's batch-100 shapes; `check_shape`
    // runs every combination of transposed operands.
    let mut rng = Lcg(17);
    for_each_config("tile_height_chosen_by_rows", |ctx| {
        for (m, n, k) in [
            (100, 20, 784),
            (100, 192, 96),
            (10, 96, 200),
            (24, 37, 19),
            (36, 33, 70),
            (20, 17, 5),
            (50, 49, 31),
            (97, 65, 130),
        ] {
            check_shape::<f32>(&mut rng, m, n, k, 1, ctx);
            check_shape::<f64>(&mut rng, m, n, k, 0, ctx);
        }
    });
}

#[test]
fn odd_and_blocking_boundary_sizes() {
    // k > KC (several KC slices: beta applied once, then accumulation), m > MC, n > NC,
    // and sizes that leave partial micro-panels everywhere.
    let mut rng = Lcg(4);
    for_each_config("odd_and_blocking_boundary_sizes", |ctx| {
        for (m, n, k) in [
            (65, 65, 65),
            (257, 13, 257),
            (7, 257, 600),
            (1, 1031, 7),
            (1031, 1, 13),
            (3, 4100, 5),
            (200, 20, 2),
        ] {
            check_shape::<f32>(&mut rng, m, n, k, 1, ctx);
            check_shape::<f64>(&mut rng, m, n, k, 0, ctx);
        }
    });
}

/// Shapes that take the multi-threaded driver sharing packed B blocks (A and B both packed,
/// m ≥ n): odd sizes, so strips and B chunks are uneven and edge tiles are partial; k over
/// several KC blocks and n over several NC blocks (forced small), every transpose and
/// alpha/beta (beta ≠ 0 accumulates only on the first KC block), 2 and 3 threads.
#[test]
fn shared_b_threaded_path() {
    let _guard = lock();
    let _restore = Restore;
    let mut rng = Lcg(11);
    let before = gemm::testing::shared_b_runs();
    for kernel in gemm::available_kernels() {
        gemm::set_kernel(Some(kernel));
        gemm::testing::set_min_fmas_per_thread(Some(1));
        for (blocking, threads) in [
            (Some((100, 30, 50)), 2),
            (Some((100, 30, 50)), 3),
            (None, 2),
        ] {
            gemm::testing::set_blocking(blocking);
            gemm::set_num_threads(threads);
            let ctx = format!("kernel={kernel} threads={threads} blocking={blocking:?}");
            // Row-major A is packed from lda ≥ 1024 f32 (k = 1030); column-major from m.
            check_shape::<f32>(&mut rng, 200, 150, 1030, 0, &ctx);
            check_shape::<f32>(&mut rng, 1031, 97, 300, 3, &ctx);
            check_shape::<f64>(&mut rng, 131, 101, 517, 0, &ctx);
        }
    }
    assert!(
        gemm::testing::shared_b_runs() > before,
        "no product took the shared-B driver"
    );
    report("shared_b_threaded_path", &gemm::available_kernels());
}

/// Every product computed transposed (`Cᵀ = op(B)ᵀ·op(A)ᵀ`, merged into C tile by tile),
/// whatever the cost model would choose: odd n up to 39 (every partial width of the 16-
/// and 32-wide panels), m from 1 to 130 (partial and full 10- to 14-row panels), every
/// layout and alpha/beta (beta = 0 over NaN), a C with padding that must survive, every
/// kernel, 1 and 2 threads.
#[test]
fn transposed_c_every_odd_shape() {
    let mut rng = Lcg(29);
    let _guard = lock();
    let _restore = Restore;
    let mut ran = Vec::new();
    let before = gemm::testing::transposed_runs();
    for kernel in gemm::available_kernels() {
        gemm::set_kernel(Some(kernel));
        // Every shape on the blocked driver, threaded however small.
        gemm::testing::set_small_path(false);
        gemm::testing::set_skinny_path(false);
        gemm::testing::set_min_fmas_per_thread(Some(1));
        gemm::testing::set_transposed_c(Some(true));
        for threads in [1, 2] {
            gemm::set_num_threads(threads);
            let ctx = format!("transposed kernel={kernel} threads={threads}");
            for m in [1, 2, 5, 10, 13, 20, 31, 64, 100, 129, 130] {
                for n in (1..40).step_by(2) {
                    for k in [1, 9, 40] {
                        check_shape::<f32>(&mut rng, m, n, k, 3, &ctx);
                        check_shape::<f64>(&mut rng, m, n, k, 1, &ctx);
                    }
                }
            }
        }
        ran.push(kernel);
    }
    assert!(gemm::testing::transposed_runs() > before);
    report("transposed_c_every_odd_shape", &ran);
}

/// The transposed product across block boundaries: k over several KC slices (beta applied
/// on the first only), m and n over several MC / NC blocks, the shared-B threaded driver
/// (B packed, rows split) included.
#[test]
fn transposed_c_crosses_blocks() {
    let mut rng = Lcg(31);
    let _guard = lock();
    let _restore = Restore;
    for kernel in gemm::available_kernels() {
        gemm::set_kernel(Some(kernel));
        gemm::testing::set_min_fmas_per_thread(Some(1));
        gemm::testing::set_transposed_c(Some(true));
        gemm::testing::set_blocking(Some((16, 20, 64)));
        for threads in [1, 2, 3] {
            gemm::set_num_threads(threads);
            let ctx = format!("transposed kernel={kernel} threads={threads} blocking");
            for (m, n, k) in [(37, 130, 41), (130, 37, 100), (67, 21, 33), (150, 90, 17)] {
                check_shape::<f32>(&mut rng, m, n, k, 2, &ctx);
                check_shape::<f64>(&mut rng, m, n, k, 0, &ctx);
            }
        }
    }
    report("transposed_c_crosses_blocks", &gemm::available_kernels());
}

/// The orientation changes where each element of C is computed, not its bits: with
/// non-integer data (so that any other order of the sums, or another rounding, would
/// show), beta 0 and 1 (all autograd uses), the cost model's choice and the forced
/// transposed product equal the normal one bit for bit, on the homework's shapes (which
/// the model computes transposed, checked) and others, every kernel, 1 and 2 threads.
#[test]
fn orientation_keeps_the_bits() {
    let _guard = lock();
    let _restore = Restore;
    let mut s = 41u64;
    let mut r = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    fn run<T: Float>(
        force: Option<bool>,
        alpha: T,
        a: &Operand<T>,
        b: &Operand<T>,
        beta: T,
        c0: &[T],
    ) -> Vec<T> {
        gemm::testing::set_transposed_c(force);
        let mut c = c0.to_vec();
        let (m, n) = (a.rows, b.cols);
        gemm(alpha, a.view(), b.view(), beta, MatMut::new(&mut c, m, n));
        c
    }
    fn check<T: Float>(
        r: &mut impl FnMut() -> f64,
        (m, k, n): (usize, usize, usize),
        (ta, tb): (bool, bool),
        ctx: &str,
    ) {
        let mut vec = |len: usize| (0..len).map(|_| T::from_f64(r())).collect::<Vec<T>>();
        let a = Operand {
            data: vec(m * k),
            rows: m,
            cols: k,
            trans: ta,
        };
        let b = Operand {
            data: vec(k * n),
            rows: k,
            cols: n,
            trans: tb,
        };
        let c0 = vec(m * n);
        for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (-0.3, 1.0), (0.7, 0.0)] {
            let (alpha, beta) = (T::from_f64(alpha), T::from_f64(beta));
            let normal = run(Some(false), alpha, &a, &b, beta, &c0);
            let auto = run(None, alpha, &a, &b, beta, &c0);
            let bits = |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
            let what = format!(
                "{ctx} {} {m}x{k}x{n} ta={ta} tb={tb} alpha={alpha} beta={beta}",
                T::DTYPE
            );
            assert!(
                bits(&auto) == bits(&normal),
                "{what}: the model's orientation changed bits"
            );
            // Forced, the transposed product may slice k otherwise (a taller tile's KC):
            // compare it where every kernel takes k in one slice.
            if k <= 512 {
                let swapped = run(Some(true), alpha, &a, &b, beta, &c0);
                assert!(
                    bits(&swapped) == bits(&normal),
                    "{what}: the transposed product changed bits"
                );
            }
        }
    }
    let mut ran = Vec::new();
    for kernel in gemm::available_kernels() {
        gemm::set_kernel(Some(kernel));
        for threads in [1, 2] {
            gemm::set_num_threads(threads);
            gemm::testing::set_min_fmas_per_thread(if threads == 2 { Some(1) } else { None });
            let ctx = format!("kernel={kernel} threads={threads}");
            let before = gemm::testing::transposed_runs();
            // (m, k, n) and which operands are stored transposed.
            for (shape, layout) in [
                ((500, 100, 100), (true, false)),
                ((784, 100, 20), (true, false)),
                ((100, 784, 20), (false, true)),
                ((100, 784, 20), (false, false)),
                ((200, 784, 10), (false, true)),
                ((100, 100, 20), (true, false)),
                ((100, 20, 784), (false, false)),
                ((61, 300, 33), (true, true)),
            ] {
                check::<f32>(&mut r, shape, layout, &ctx);
                check::<f64>(&mut r, shape, layout, &ctx);
            }
            if kernel == Kernel::Avx512 {
                assert!(
                    gemm::testing::transposed_runs() > before,
                    "{ctx}: the model computed none of the padded shapes transposed"
                );
            }
        }
        ran.push(kernel);
    }
    report("orientation_keeps_the_bits", &ran);
}

/// A GEMM called from inside rayon jobs (course::sweep trains on rayon) must not wait for
/// pool threads that are busy: large threaded products run simultaneously on every worker
/// of a 2-thread pool, and nested (two per worker through `join`), must finish and agree
/// with the single-threaded result.
#[test]
fn threaded_gemm_inside_busy_rayon_pool() {
    let _guard = lock();
    let _restore = Restore;
    let mut rng = Lcg(12);
    // Both operands packed and m ≥ n: the shared-B driver. B is packed when the rows of
    // one KC slice span more than three quarters of L2 (`driver::compact_b_bytes`), so n
    // is chosen from this machine's L2 and KC (512 on Zen 5: 1 MiB L2, slices of 515).
    let k: usize = 1030;
    let kc = gemm::blocking::<f32>().kc;
    let slice = k.div_ceil(k.div_ceil(kc));
    let in_place_max = gemm::cache_sizes().l2 / 4 * 3;
    let n = (in_place_max / (slice * size_of::<f32>()) + 1)
        .next_multiple_of(32)
        .max(512);
    let m = n.max(1024) + 7;
    let a = rng.vec::<f32>(m * k);
    let b = rng.vec::<f32>(k * n);
    let mut want = vec![0.0f32; m * n];
    gemm::set_num_threads(1);
    let (av, bv) = (MatRef::new(&a, m, k), MatRef::new(&b, k, n));
    gemm(1.0, av, bv, 0.0, MatMut::new(&mut want, m, n));
    gemm::set_num_threads(2);
    gemm::testing::set_min_fmas_per_thread(Some(1));
    let before = gemm::testing::shared_b_runs();
    // A detached thread runs the pool, so that a deadlock fails the test after a timeout
    // instead of hanging the run.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let one = || {
            let mut c = vec![0.0f32; m * n];
            let (a, b) = (MatRef::new(&a, m, k), MatRef::new(&b, k, n));
            gemm(1.0, a, b, 0.0, MatMut::new(&mut c, m, n));
            c == want
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let ok = pool.broadcast(|_| {
            let (x, (y, z)) = rayon::join(one, || rayon::join(one, one));
            x && y && z
        });
        let _ = tx.send(ok);
    });
    let ok = rx
        .recv_timeout(std::time::Duration::from_secs(300))
        .expect("nested threaded GEMMs in a busy pool did not finish (deadlock?)");
    assert_eq!(
        ok,
        [true, true],
        "a nested threaded GEMM gave a wrong result"
    );
    assert!(gemm::testing::shared_b_runs() >= before + 6);
}

#[test]
fn large_threaded_product() {
    // Big enough that 2 threads are used with the tuned thresholds; one transpose combo
    // each, to keep the naive reference affordable.
    let _guard = lock();
    let _restore = Restore;
    let mut rng = Lcg(5);
    for &(m, n, k, ta, tb) in &[(1031, 257, 65, false, false), (257, 1031, 300, true, true)] {
        let a = Operand::<f32>::new(&mut rng, m, k, ta);
        let b = Operand::<f32>::new(&mut rng, k, n, tb);
        let c0 = rng.vec::<f32>(m * n);
        let want = naive(2.0, &a, &b, 1.0, &c0, n);
        for kernel in gemm::available_kernels() {
            gemm::set_kernel(Some(kernel));
            assert_eq!(gemm::kernel(), kernel);
            for threads in [1, 2] {
                gemm::set_num_threads(threads);
                let mut c = c0.clone();
                gemm(2.0, a.view(), b.view(), 1.0, MatMut::new(&mut c, m, n));
                assert!(
                    c == want,
                    "kernel={kernel} threads={threads} m={m} n={n} k={k}"
                );
            }
        }
    }
    report("large_threaded_product", &gemm::available_kernels());
}

#[test]
fn random_floats_f64_close_to_reference() {
    // Non-integer data: results differ from the naive loop only by rounding.
    let _guard = lock();
    let _restore = Restore;
    let (m, n, k) = (37, 45, 517);
    let mut s = 9u64;
    let mut r = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let a = Operand {
        data: (0..m * k).map(|_| r()).collect(),
        rows: m,
        cols: k,
        trans: false,
    };
    let b = Operand {
        data: (0..k * n).map(|_| r()).collect(),
        rows: k,
        cols: n,
        trans: true,
    };
    let want = naive(1.0, &a, &b, 0.0, &vec![0.0; m * n], n);
    for kernel in gemm::available_kernels() {
        gemm::set_kernel(Some(kernel));
        let mut c = vec![f64::NAN; m * n];
        gemm(1.0, a.view(), b.view(), 0.0, MatMut::new(&mut c, m, n));
        for (x, y) in c.iter().zip(&want) {
            assert!((x - y).abs() <= 1e-12, "kernel={kernel}: {x} vs {y}");
        }
    }
    report(
        "random_floats_f64_close_to_reference",
        &gemm::available_kernels(),
    );
}

#[test]
fn alpha_zero_and_k_zero_scale_c_without_reading_a_b() {
    let a = [f32::NAN; 6];
    let b = [f32::NAN; 6];
    let mut c = vec![1.0f32, 2.0, 3.0, 4.0];
    gemm(
        0.0,
        MatRef::new(&a, 2, 3),
        MatRef::new(&b, 3, 2),
        3.0,
        MatMut::new(&mut c, 2, 2),
    );
    assert_eq!(c, [3.0, 6.0, 9.0, 12.0]);
    let mut c = vec![f32::NAN; 4];
    gemm(
        1.0,
        MatRef::new(&a, 2, 0),
        MatRef::new(&b, 0, 2),
        0.0,
        MatMut::new(&mut c, 2, 2),
    );
    assert_eq!(c, [0.0; 4]);
}

#[test]
#[should_panic(expected = "gemm: A is 2x3, B is 2x3, C is 2x3")]
fn shape_mismatch_names_all_three() {
    let x = [0.0f64; 6];
    let mut c = [0.0f64; 6];
    gemm(
        1.0,
        MatRef::new(&x, 2, 3),
        MatRef::new(&x, 2, 3),
        0.0,
        MatMut::new(&mut c, 2, 3),
    );
}

#[test]
#[should_panic(expected = "outside its slice")]
fn out_of_bounds_view_is_rejected() {
    let x = [0.0f32; 6];
    let mut c = [0.0f32; 4];
    let bad = MatRef {
        data: &x[..],
        rows: 2,
        cols: 3,
        row_stride: 4,
        col_stride: 1,
    };
    gemm(
        1.0,
        bad,
        MatRef::new(&x, 3, 2),
        0.0,
        MatMut::new(&mut c, 2, 2),
    );
}

#[test]
fn kernel_selection_api() {
    let _guard = lock();
    let _restore = Restore;
    let avail = gemm::available_kernels();
    assert_eq!(avail.last(), Some(&Kernel::Scalar));
    assert!(avail.contains(&gemm::kernel()));
    for k in Kernel::ALL {
        assert_eq!(k.name().parse::<Kernel>(), Ok(k));
        match gemm::try_set_kernel(Some(k)) {
            Ok(()) => {
                assert!(k.is_available());
                assert_eq!(gemm::kernel(), k);
            }
            Err(e) => {
                assert!(!k.is_available());
                assert_eq!(e, KernelError::Unsupported(k));
                let msg = e.to_string();
                assert!(
                    msg.contains(k.name()) && msg.contains("not supported"),
                    "{msg}"
                );
                println!("kernel {k} unavailable here: {msg}");
            }
        }
    }
    assert!(matches!(
        "sse9".parse::<Kernel>(),
        Err(KernelError::UnknownName(_))
    ));
    gemm::set_kernel(None);
    assert_eq!(gemm::kernel(), avail[0]);
}

#[test]
fn forcing_an_unsupported_kernel_panics_clearly() {
    let Some(k) = Kernel::ALL.into_iter().find(|k| !k.is_available()) else {
        println!("every kernel is supported here; nothing to check");
        return;
    };
    let _guard = lock();
    let _restore = Restore;
    let err = std::panic::catch_unwind(|| gemm::set_kernel(Some(k))).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("not supported"), "{msg}");
}

#[test]
fn thread_knob() {
    let _guard = lock();
    let _restore = Restore;
    gemm::set_num_threads(3);
    assert_eq!(gemm::num_threads(), 3);
    gemm::set_num_threads(0);
    assert!(gemm::num_threads() >= 1);
}

#[test]
fn a_threads_own_cap_leaves_the_others_alone() {
    let _guard = lock();
    let _restore = Restore;
    gemm::set_num_threads(3);
    let inside = std::thread::spawn(|| {
        gemm::set_num_threads_here(1);
        let capped = gemm::num_threads();
        gemm::set_num_threads_here(0);
        (capped, gemm::num_threads())
    })
    .join()
    .unwrap();
    assert_eq!(inside, (1, 3));
    assert_eq!(gemm::num_threads(), 3);
}

/// The child half of `env_vars_select_kernel_and_threads`: checks what
/// `FERROGRAD_GEMM_KERNEL` / `FERROGRAD_NUM_THREADS` selected in a fresh process. Run
/// directly (without `FERROGRAD_TEST_EXPECT`) it has nothing to check and says so.
#[test]
fn env_child() {
    let Ok(want) = std::env::var("FERROGRAD_TEST_EXPECT") else {
        println!("env_child: only meaningful in the child process the parent test starts");
        return;
    };
    assert_eq!(gemm::kernel().name(), want);
    assert_eq!(gemm::num_threads(), 1);
    let mut rng = Lcg(6);
    check_shape::<f32>(&mut rng, 13, 17, 19, 0, "env");
}

#[test]
fn env_vars_select_kernel_and_threads() {
    let exe = std::env::current_exe().expect("test binary path");
    let run = |kernel: &str| {
        let out = std::process::Command::new(&exe)
            .args(["--exact", "env_child", "--nocapture", "--test-threads=1"])
            .env("FERROGRAD_GEMM_KERNEL", kernel)
            .env("FERROGRAD_NUM_THREADS", "1")
            .env("FERROGRAD_TEST_EXPECT", kernel)
            .output()
            .expect("run the test binary");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    for k in gemm::available_kernels() {
        let (ok, text) = run(k.name());
        assert!(ok, "FERROGRAD_GEMM_KERNEL={k}: child failed:\n{text}");
    }
    if let Some(k) = Kernel::ALL.into_iter().find(|k| !k.is_available()) {
        let (ok, text) = run(k.name());
        assert!(
            !ok && text.contains("FERROGRAD_GEMM_KERNEL") && text.contains("not supported"),
            "FERROGRAD_GEMM_KERNEL={k} should fail clearly:\n{text}"
        );
    }
    let (ok, text) = run("sse9");
    assert!(
        !ok && text.contains("unknown GEMM kernel"),
        "bogus name:\n{text}"
    );
}

/// `alpha * A * B + beta * C` by the definition, reading A and B through their views.
fn naive_views<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: &[T]) -> Vec<T> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let at = |x: &MatRef<'_, T>, i: usize, j: usize| x.data[i * x.row_stride + j * x.col_stride];
    let mut out = c.to_vec();
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::ZERO;
            for p in 0..k {
                acc += at(&a, i, p) * at(&b, p, j);
            }
            out[i * n + j] = alpha * acc + beta * c[i * n + j];
        }
    }
    out
}

/// A view with the given strides over a slice of exactly the length it needs.
fn strided<T: Float>(rng: &mut Lcg, rows: usize, cols: usize, rs: usize, cs: usize) -> Vec<T> {
    let len = if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    };
    rng.vec(len)
}

fn check_strided<T: Float>(
    rng: &mut Lcg,
    (m, n, k): (usize, usize, usize),
    (ars, acs): (usize, usize),
    (brs, bcs): (usize, usize),
    ctx: &str,
) {
    let ad = strided::<T>(rng, m, k, ars, acs);
    let bd = strided::<T>(rng, k, n, brs, bcs);
    let a = MatRef {
        data: &ad[..],
        rows: m,
        cols: k,
        row_stride: ars,
        col_stride: acs,
    };
    let b = MatRef {
        data: &bd[..],
        rows: k,
        cols: n,
        row_stride: brs,
        col_stride: bcs,
    };
    let (alpha, beta) = (T::from_f64(2.0), T::from_f64(-1.0));
    let c0 = rng.vec::<T>(m * n);
    let want = naive_views(alpha, a, b, beta, &c0);
    let mut c = c0.clone();
    gemm(alpha, a, b, beta, MatMut::new(&mut c, m, n));
    assert!(
        c == want,
        "{ctx} {}: m={m} n={n} k={k} A strides ({ars}, {acs}) B strides ({brs}, {bcs})",
        T::DTYPE
    );
}

#[test]
fn zero_strides_broadcast() {
    // A zero stride repeats a row or a column (a broadcast); such views pass validation,
    // and packing used to panic on them (`step_by(0)`: "assertion failed: step != 0").
    // Shapes from tiny (small loops, operands in place) to packed and threaded.
    let mut rng = Lcg(11);
    for_each_config("zero_strides_broadcast", |ctx| {
        for (m, n, k) in [(3, 5, 7), (13, 40, 19), (150, 70, 300), (33, 257, 129)] {
            for (sa, sb) in [
                ((0, 1), (n, 1)),
                ((k, 0), (n, 1)),
                ((0, 0), (0, 0)),
                ((1, 0), (0, 1)),
                ((1, m), (1, 0)),
                ((0, m), (0, k)),
                ((k, 1), (0, 1)),
                ((k, 1), (1, 0)),
            ] {
                check_strided::<f32>(&mut rng, (m, n, k), sa, sb, ctx);
                check_strided::<f64>(&mut rng, (m, n, k), sa, sb, ctx);
            }
        }
    });
}

#[test]
#[should_panic(expected = "C's rows overlap")]
fn zero_stride_matmut_is_rejected() {
    let x = [1.0f32; 6];
    let mut c = [0.0f32; 2];
    let bad = MatMut {
        data: &mut c[..],
        rows: 3,
        cols: 2,
        row_stride: 0,
    };
    gemm(1.0, MatRef::new(&x, 3, 2), MatRef::new(&x, 2, 2), 0.0, bad);
}

#[test]
fn in_place_operands_in_exactly_sized_slices() {
    // Operands the driver reads in place (small or low-reuse products; row-major B,
    // row- or column-major A) in slices that end exactly at their last element, with
    // full micro-panels (n a multiple of every NR) and ragged ones, odd and even k. The
    // kernels used to bump their A/B pointers past the last k step, up to a whole row or
    // column beyond the slice: an out-of-bounds `ptr::add`, undefined behaviour even
    // unread. No Miri here, so this pins the path and the exact-length contract (a read
    // past the end would pick up garbage or fault on the guard page of the allocation).
    let mut rng = Lcg(12);
    for_each_config("in_place_operands_in_exactly_sized_slices", |ctx| {
        for (m, n, k) in [
            (14, 64, 1),
            (14, 64, 2),
            (28, 32, 3),
            (6, 16, 17),
            (42, 96, 31),
            (64, 64, 64),
            (4, 300, 257),
            (300, 3, 257),
        ] {
            // Row-major A and B, both dense.
            check_strided::<f32>(&mut rng, (m, n, k), (k, 1), (n, 1), ctx);
            check_strided::<f64>(&mut rng, (m, n, k), (k, 1), (n, 1), ctx);
            // Column-major A (a transposed operand), B with a leading dimension > n.
            check_strided::<f32>(&mut rng, (m, n, k), (1, m), (n + 3, 1), ctx);
            check_strided::<f64>(&mut rng, (m, n, k), (1, m), (n + 3, 1), ctx);
        }
    });
}

#[test]
fn tiny_blocks_cross_every_boundary() {
    // The blocking comes from this machine's caches, so the shapes that cross KC, MC and
    // NC differ between machines; forced tiny blocks make every product cross all of
    // them (odd KC included) on any machine.
    let mut rng = Lcg(13);
    for_each_config("tiny_blocks_cross_every_boundary", |ctx| {
        for (kc, mc, nc) in [(7, 1, 1), (16, 30, 40), (1, 100, 100)] {
            gemm::testing::set_blocking(Some((kc, mc, nc)));
            for (m, n, k) in [(65, 65, 65), (100, 70, 37), (29, 130, 20)] {
                check_shape::<f32>(&mut rng, m, n, k, 1, ctx);
                check_shape::<f64>(&mut rng, m, n, k, 0, ctx);
            }
        }
        gemm::testing::set_blocking(None);
    });
}

#[test]
fn blocking_follows_the_caches() {
    let _guard = lock();
    let _restore = Restore;
    let c = gemm::cache_sizes();
    for kernel in gemm::available_kernels() {
        gemm::set_kernel(Some(kernel));
        for (b, e) in [(gemm::blocking::<f32>(), 4), (gemm::blocking::<f64>(), 8)] {
            assert!(
                b.mc.is_multiple_of(b.mr) && b.nc.is_multiple_of(b.nr),
                "{kernel}: {b:?}"
            );
            // The B micro-panel fits L1, or (AVX-512, see `gemm::cache`) an eighth of L2.
            let b_panel_cap = if kernel == gemm::Kernel::Avx512 {
                c.l2 / 8
            } else {
                c.l1d
            };
            assert!(b.nr * b.kc * e <= b_panel_cap, "{kernel}: {b:?} vs {c:?}");
            assert!(b.mc * b.kc * e <= c.l2, "{kernel}: {b:?} vs {c:?}");
        }
    }
}
