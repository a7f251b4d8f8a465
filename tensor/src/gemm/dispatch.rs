//! Run-time kernel selection and the per-kernel block sizes.
//!
//! The best kernel the CPU supports is found once with `is_x86_feature_detected!` (or
//! compile-time `cfg` on aarch64), so a plain `cargo build --release` — without
//! `-C target-cpu=native` — still runs the AVX2/AVX-512 code. A kernel can be forced with
//! [`set_kernel`] or the `FERROGRAD_GEMM_KERNEL` environment variable (`scalar`, `avx2`,
//! `avx512`, `neon`); forcing one the CPU cannot run is an error (or a panic), never UB:
//! [`spec`] re-checks availability before handing out a kernel's function pointer.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::cache::{self, Blocking};
use super::driver::packs_with_kc;
use super::kernels::{self, KernelFn};
use super::{skinny, MatRef};
use crate::Float;

/// A micro-kernel family (one instruction set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Portable Rust, no explicit SIMD (4×4 tiles); runs everywhere.
    Scalar,
    /// x86-64 AVX2 + FMA (6×16 f32, 6×8 f64 tiles).
    Avx2,
    /// x86-64 AVX-512F (14×32 f32, 8×24 f64, with shorter tiles chosen by m).
    Avx512,
    /// aarch64 NEON (8×8 f32, 8×4 f64 tiles).
    Neon,
}

impl Kernel {
    /// Every kernel, fastest first.
    pub const ALL: [Kernel; 4] = [Kernel::Avx512, Kernel::Avx2, Kernel::Neon, Kernel::Scalar];

    /// The name used by `FERROGRAD_GEMM_KERNEL` and [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
            Kernel::Neon => "neon",
        }
    }

    /// Whether this CPU (and this build's target) can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Whether this is the AVX-512 kernel and the CPU runs it: the condition of the
    /// AVX-512 loops beside the kernels (`skinny.rs`, `dot.rs`).
    pub(crate) fn runs_avx512(self) -> bool {
        self == Kernel::Avx512 && Kernel::Avx512.is_available()
    }

    /// Whether this is the AVX2 kernel and the CPU runs it: the condition of the AVX2
    /// copies of those loops (`dot.rs`'s for `f32` only).
    pub(crate) fn runs_avx2(self) -> bool {
        self == Kernel::Avx2 && Kernel::Avx2.is_available()
    }

    fn to_u8(self) -> u8 {
        match self {
            Kernel::Scalar => 2,
            Kernel::Avx2 => 3,
            Kernel::Avx512 => 4,
            Kernel::Neon => 5,
        }
    }

    fn from_u8(v: u8) -> Option<Kernel> {
        Some(match v {
            2 => Kernel::Scalar,
            3 => Kernel::Avx2,
            4 => Kernel::Avx512,
            5 => Kernel::Neon,
            _ => return None,
        })
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kernel {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Kernel::ALL
            .into_iter()
            .find(|k| k.name() == s || (s == "avx512f" && *k == Kernel::Avx512))
            .ok_or(KernelError::UnknownName(s))
    }
}

/// Why a kernel could not be selected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelError {
    /// The name is none of `scalar`, `avx2`, `avx512`, `neon`.
    UnknownName(String),
    /// The CPU (or the build target) cannot run this kernel.
    Unsupported(Kernel),
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let avail: Vec<&str> = available_kernels().iter().map(|k| k.name()).collect();
        match self {
            KernelError::UnknownName(s) => write!(
                f,
                "unknown GEMM kernel {s:?}: expected one of scalar, avx2, avx512, neon \
                 (this CPU can run: {})",
                avail.join(", ")
            ),
            KernelError::Unsupported(k) => write!(
                f,
                "GEMM kernel {k} is not supported on this CPU/target (this CPU can run: {})",
                avail.join(", ")
            ),
        }
    }
}

impl std::error::Error for KernelError {}

/// The kernels this CPU can run, fastest first (always ends with [`Kernel::Scalar`]).
pub fn available_kernels() -> Vec<Kernel> {
    Kernel::ALL
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
}

/// 0 = not yet initialised (read `FERROGRAD_GEMM_KERNEL` on first use), 1 = automatic,
/// otherwise a forced kernel (`Kernel::to_u8`).
static SELECTED: AtomicU8 = AtomicU8::new(0);
const AUTO: u8 = 1;

/// Forces the GEMM kernel (`Some`) or returns to the automatic choice, the best one the CPU
/// supports (`None`). Process-wide; takes effect from the next `gemm` call.
///
/// Panics with a clear message if the CPU cannot run the kernel; see [`try_set_kernel`].
#[track_caller]
pub fn set_kernel(kernel: Option<Kernel>) {
    if let Err(e) = try_set_kernel(kernel) {
        panic!("gemm::set_kernel: {e}");
    }
}

/// Like [`set_kernel`], but returns an error instead of panicking (the selection is then
/// left unchanged).
pub fn try_set_kernel(kernel: Option<Kernel>) -> Result<(), KernelError> {
    match kernel {
        None => SELECTED.store(AUTO, Ordering::Relaxed),
        Some(k) if k.is_available() => SELECTED.store(k.to_u8(), Ordering::Relaxed),
        Some(k) => return Err(KernelError::Unsupported(k)),
    }
    Ok(())
}

// ANCHOR: kernel_choice
/// The kernel the next `gemm` call will use.
///
/// Panics on first use if `FERROGRAD_GEMM_KERNEL` names an unknown or unsupported kernel;
/// [`check_env`](super::check_env), called at start, reports that as an error instead.
#[track_caller]
pub fn kernel() -> Kernel {
    let mut v = SELECTED.load(Ordering::Relaxed);
    if v == 0 {
        v = match env_kernel() {
            Ok(Some(k)) => k.to_u8(),
            Ok(None) => AUTO,
            Err(e) => panic!("{e}"),
        };
        // Another thread may have raced us with `set_kernel`: keep whatever is there.
        let _ = SELECTED.compare_exchange(0, v, Ordering::Relaxed, Ordering::Relaxed);
        v = SELECTED.load(Ordering::Relaxed);
    }
    Kernel::from_u8(v).unwrap_or_else(best)
}

/// `FERROGRAD_GEMM_KERNEL`: `Ok(None)` when unset, empty or `auto`; an error naming the
/// variable when it names an unknown kernel or one this CPU cannot run.
pub(crate) fn env_kernel() -> Result<Option<Kernel>, String> {
    const VAR: &str = "FERROGRAD_GEMM_KERNEL";
    let s = match std::env::var(VAR) {
        Err(std::env::VarError::NotPresent) => return Ok(None),
        Err(std::env::VarError::NotUnicode(s)) => {
            return Err(format!(
                "{VAR}={s:?}: {}",
                KernelError::UnknownName(s.to_string_lossy().into_owned())
            ))
        }
        Ok(s) if s.trim().is_empty() || s.trim() == "auto" => return Ok(None),
        Ok(s) => s,
    };
    s.parse::<Kernel>()
        .and_then(|k| {
            if k.is_available() {
                Ok(Some(k))
            } else {
                Err(KernelError::Unsupported(k))
            }
        })
        .map_err(|e| format!("{VAR}={s:?}: {e}"))
}

fn best() -> Kernel {
    Kernel::ALL
        .into_iter()
        .find(|k| k.is_available())
        .unwrap_or(Kernel::Scalar)
}
// ANCHOR_END: kernel_choice

// ANCHOR: spec
/// Everything the driver needs to know about one kernel for one element type.
pub(crate) struct Spec<E: 'static> {
    /// Which kernel family this is (also selects the small-product loops).
    pub kernel: Kernel,
    /// Micro-tile rows (A panel height).
    pub mr: usize,
    /// Micro-tile columns (B panel width).
    pub nr: usize,
    /// The MR×NR micro-kernel. Only reachable through [`spec`], which checks the CPU
    /// supports it (as for `ukr_narrow`).
    pub ukr: KernelFn<E>,
    /// A narrower MR×w kernel and its width w (a multiple of the vector length, < NR) for
    /// a last B panel of at most w columns, if any.
    pub ukr_narrow: Option<(usize, KernelFn<E>)>,
}
// ANCHOR_END: spec

impl<E: 'static> Spec<E> {
    /// KC, MC, NC for this kernel: derived from this machine's caches (see `cache`),
    /// unless overridden by `FERROGRAD_GEMM_KC` / `_MC` / `_NC` (read once, for tuning) or
    /// the test hook `testing::set_blocking`. MC and NC are rounded up to whole tiles.
    pub(crate) fn blocking(&self) -> Blocking {
        // The AVX-512 kernels measured faster with the B micro-panel in L2 (deeper KC
        // slices, fewer passes over C); see `cache`.
        let rule = match self.kernel {
            Kernel::Avx512 => cache::KcRule::L2,
            _ => cache::KcRule::L1,
        };
        let d = cache::derive_cached(self.mr, self.nr, std::mem::size_of::<E>(), rule);
        let env = env_blocking();
        let pick = |i: usize, derived: usize| match BLOCKING_OVERRIDE[i].load(Ordering::Relaxed) {
            0 => env[i].unwrap_or(derived),
            v => v,
        };
        Blocking {
            kc: pick(0, d.kc).max(1),
            mc: pick(1, d.mc).max(1).next_multiple_of(self.mr),
            nc: pick(2, d.nc).max(1).next_multiple_of(self.nr),
            ..d
        }
    }
}

/// Test hook: KC, MC, NC forced for every kernel (0 = not forced).
pub(crate) static BLOCKING_OVERRIDE: [AtomicUsize; 3] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];

/// The variables that override KC, MC and NC (for tuning).
pub(crate) const BLOCKING_ENV: [&str; 3] = [
    "FERROGRAD_GEMM_KC",
    "FERROGRAD_GEMM_MC",
    "FERROGRAD_GEMM_NC",
];

/// `FERROGRAD_GEMM_KC`, `_MC`, `_NC`, read once.
fn env_blocking() -> [Option<usize>; 3] {
    static ENV: OnceLock<[Option<usize>; 3]> = OnceLock::new();
    *ENV.get_or_init(|| {
        BLOCKING_ENV.map(|var| super::env::positive(var).unwrap_or_else(|e| panic!("{e}")))
    })
}

/// The block sizes the next `gemm::<T>` call will use (current kernel, this machine's
/// caches, any overrides).
pub fn blocking<T: Float>() -> Blocking {
    let k = kernel();
    match T::DTYPE {
        crate::DType::F32 => spec::<f32>(k).blocking(),
        crate::DType::F64 => spec::<f64>(k).blocking(),
    }
}

/// The element types the GEMM is implemented for, with their per-kernel specs.
pub(crate) trait Elem: Float {
    /// The spec for `kernel`, or `None` where the kernel does not exist for this target.
    fn spec_table(kernel: Kernel) -> Option<&'static Spec<Self>>;

    /// Specs of the same kernel family with other MR, preferred first (the first is
    /// `spec_table`'s); empty where there is only the one.
    fn row_variants(_kernel: Kernel) -> &'static [&'static Spec<Self>] {
        &[]
    }
}

impl Elem for f32 {
    fn spec_table(kernel: Kernel) -> Option<&'static Spec<f32>> {
        match kernel {
            Kernel::Scalar => Some(&kernels::scalar::F32),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => Some(&kernels::avx2::F32),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => Some(&kernels::avx512::F32),
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => Some(&kernels::neon::F32),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    fn row_variants(kernel: Kernel) -> &'static [&'static Spec<f32>] {
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => &kernels::avx512::F32_BY_ROWS,
            _ => &[],
        }
    }
}

impl Elem for f64 {
    fn spec_table(kernel: Kernel) -> Option<&'static Spec<f64>> {
        match kernel {
            Kernel::Scalar => Some(&kernels::scalar::F64),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => Some(&kernels::avx2::F64),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => Some(&kernels::avx512::F64),
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => Some(&kernels::neon::F64),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    fn row_variants(kernel: Kernel) -> &'static [&'static Spec<f64>] {
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => &kernels::avx512::F64_BY_ROWS,
            _ => &[],
        }
    }
}

// ANCHOR: spec_gate
/// The spec of `kernel` for `E`, after checking (again) that the CPU can run it: this is
/// the one gate between a kernel's `#[target_feature]` code and the driver.
#[track_caller]
pub(crate) fn spec<E: Elem>(kernel: Kernel) -> &'static Spec<E> {
    assert!(
        kernel.is_available(),
        "gemm: {}",
        KernelError::Unsupported(kernel)
    );
    let s = E::spec_table(kernel)
        .unwrap_or_else(|| panic!("gemm: {}", KernelError::Unsupported(kernel)));
    debug_assert_eq!(s.kernel, kernel);
    s
}
// ANCHOR_END: spec_gate

// ANCHOR: spec_for_rows
/// The spec of `kernel` for a product with `m` rows: the default one, unless it would
/// leave more than 1/16 of its panel rows empty (`⌈m/MR⌉·MR` rows computed for `m`) and a
/// variant with fewer rows per tile wastes less. Fewer rows per tile means fewer FMAs per
/// loaded B vector, so the default (tallest) tile is kept when its waste is small: at
/// m = 1024 a 14-row tile computes 1036 rows, 1.2 % extra.
#[track_caller]
pub(crate) fn spec_for_rows<E: Elem>(kernel: Kernel, m: usize) -> &'static Spec<E> {
    let default = spec::<E>(kernel);
    let padded = |s: &Spec<E>| m.div_ceil(s.mr) * s.mr;
    if (padded(default) - m) * 16 <= padded(default) {
        return default;
    }
    E::row_variants(kernel)
        .iter()
        .copied()
        // `min_by_key` keeps the first of equals: the preferred, taller tile.
        .min_by_key(|s| padded(s))
        .filter(|s| s.kernel == kernel)
        .unwrap_or(default)
}
// ANCHOR_END: spec_for_rows

/// Test hook: 0 = `orientation`'s cost model decides, 1 = never transpose, 2 = always.
pub(crate) static ORIENTATION_OVERRIDE: AtomicU8 = AtomicU8::new(0);

/// What merging one element of a transposed C costs, in multiply-adds of one vector
/// lane, or `None` where the transposed orientation is never worth it: every tile of a
/// transposed C goes through the scratch tile and `driver::merge_transposed` instead of
/// being stored by the kernel. On AVX-512 (in-register transposes) the merge measured 5–6
/// lanes per element on Zen 5, f32 and f64 alike (100×100·100×500 tn: f32 91 % of the
/// peak computed normally, 87 % with every tile merged transposed; f64 80 % and 76 %); the
/// cost used is a little above, as the model is rough and a swap should win clearly.
///
/// The other kernels merge and pack transposed operands element by element, and tile
/// widths of 16 and less leave little padding to save: with AVX2 forced on Zen 5 the
/// transposed orientation lost on every shape tried (f32 500×100·100×100 tn 72 % of the
/// peak against 87 %, 784×100·100×20 tn 55 % against 64 %, f64 100×784·784×20 nt 62 %
/// against 74 %), and with the scalar kernel it won and lost by a few percent.
fn merge_cost(kernel: Kernel) -> Option<f64> {
    match kernel {
        Kernel::Avx512 => Some(8.0),
        _ => None,
    }
}

/// What packing one 4-byte element of an operand costs, in multiply-adds of one vector
/// lane (an f64 element costs twice as much): the transposed orientation often packs a
/// large operand that the normal one reads in place (`op(A)ᵀ` is row-major only if A is
/// stored column-major). Measured on Zen 5 with the transposing AVX-512 pack, from
/// 20×784·784×100 and 10×96·96×200 with B read in place against B stored transposed and
/// packed: 4–6 lanes per f32 element, 8–9 per f64 element.
const PACK_COST: f64 = 5.0;

/// `PACK_COST` for an operand larger than half this core's share of L3: it then streams
/// from memory into the pack, and the saving of the transposed orientation on FMAs turns
/// into a loss. Measured on Zen 5 (L3 share 16 MiB), f32 m×784·784×20 with A row-major
/// (packed only when transposed): the transpose won at m = 2000 (A 6 MiB, 65 % of the
/// peak against 59 %), tied at 4000 (12 MiB) and lost at 6000 and 10000 (50 % against
/// 58 %, 44 % against 52 %), which this cost predicts.
const PACK_COST_FROM_MEMORY: f64 = 16.0;

/// The spec for `op(A)·op(B)` (`m×k · k×n`) on the blocked driver, and whether to compute
/// it transposed, `Cᵀ = op(B)ᵀ·op(A)ᵀ` (`true`), written into C through
/// `driver::merge_transposed`.
///
/// Why: the kernels vectorise along the columns of C, so n that is a poor multiple of the
/// tile width pays for FMAs on padding lanes (n = 20 computes 32 columns with a 32-wide
/// tile, n = 100 computes 112), while the rows are cut into tiles of 10 to 14 (see
/// `spec_for_rows`), which fit most m. When the transpose pads less (m = 500 rows as
/// columns: 512, against 100 columns padded to 112), it can win more than it costs. The
/// model counts for each orientation the padded multiply-adds (⌈m/MR⌉·MR rows times n
/// rounded up to the tile, or to the narrow kernel's width for the last panel, or, where
/// `skinny::edge_columns` takes the last few columns, twice their number, times k)
/// and `PACK_COST` per element of the operands the driver would pack (more for one that
/// does not fit in the L3 cache), and charges the transposed one `merge_cost` per element
/// of C per KC slice.
///
/// The bits do not change: each element of C is the same chain of FMAs over k either way
/// (A's and B's factors swap places, and an FMA is commutative in them), its KC slices
/// included, which is why the two orientations must slice k alike; and it is merged with
/// `beta` as an edge tile is (`merge_edge`: the same as a full tile for beta = 0 or 1,
/// which is all autograd uses; for other beta an edge tile's sum is not fused).
///
/// The third value is how many of C's last columns the normal orientation leaves to
/// `skinny`'s few-columns loop (`skinny::edge_columns`; 0 when transposed).
#[track_caller]
pub(crate) fn orientation<E: Elem>(
    kernel: Kernel,
    a: &MatRef<'_, E>,
    b: &MatRef<'_, E>,
) -> (&'static Spec<E>, bool, usize) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let normal = spec_for_rows::<E>(kernel, m);
    // The normal orientation's last few columns may take `skinny`'s few-columns loop,
    // at about half the tiles' speed per multiply-add.
    let edge = skinny::edge_columns(kernel, normal.nr, a, b);
    let merge_cost = match ORIENTATION_OVERRIDE.load(Ordering::Relaxed) {
        1 => return (normal, false, edge),
        2 => return (spec_for_rows::<E>(kernel, n), true, 0),
        _ => match merge_cost(kernel) {
            Some(cost) => cost,
            None => return (normal, false, edge),
        },
    };
    let swapped = spec_for_rows::<E>(kernel, n);
    // Padded multiply-adds of an orientation, the first test: it is cheap, and most
    // products (n a good multiple of the tile) fail it.
    let fmas = |s: &Spec<E>, rows: usize, cols: usize, edge: usize| {
        let (full, rem) = (cols / s.nr * s.nr, cols % s.nr);
        let last = match s.ukr_narrow {
            _ if rem == 0 => 0,
            _ if edge > 0 => 2 * edge,
            Some((w, _)) if rem <= w => w,
            _ => s.nr,
        };
        (rows.div_ceil(s.mr) * s.mr) as f64 * (full + last) as f64 * k as f64
    };
    let (fmas_normal, fmas_swapped) = (fmas(normal, m, n, edge), fmas(swapped, n, m, 0));
    let merge_one = merge_cost * m as f64 * n as f64;
    if fmas_swapped + merge_one >= fmas_normal {
        return (normal, false, edge);
    }
    // `blocking` is a few dozen divisions: once per spec.
    let kc_normal = normal.blocking().kc;
    let kc_swapped = if std::ptr::eq(normal, swapped) {
        kc_normal
    } else {
        swapped.blocking().kc
    };
    let (slices_normal, slices_swapped) = (k.div_ceil(kc_normal), k.div_ceil(kc_swapped));
    if k.div_ceil(slices_normal) != k.div_ceil(slices_swapped) {
        return (normal, false, edge);
    }
    let caches = cache::cache_sizes();
    let l3_half = (caches.l3 / caches.l3_sharing.max(1) / 2) as f64;
    let packing = |s: &Spec<E>, kc: usize, a: &MatRef<'_, E>, b: &MatRef<'_, E>| {
        let (pack_a, pack_b) = packs_with_kc(s, kc, a, b);
        let pack = |packed: bool, elems: f64| {
            let bytes = elems * size_of::<E>() as f64;
            match packed {
                false => 0.0,
                true if bytes <= l3_half => PACK_COST * bytes / 4.0,
                true => PACK_COST_FROM_MEMORY * bytes / 4.0,
            }
        };
        pack(pack_a, a.rows as f64 * k as f64) + pack(pack_b, k as f64 * b.cols as f64)
    };
    let swap = fmas_swapped
        + merge_one * slices_swapped as f64
        + packing(swapped, kc_swapped, &b.t(), &a.t())
        < fmas_normal + packing(normal, kc_normal, a, b);
    if swap {
        (swapped, true, 0)
    } else {
        (normal, false, edge)
    }
}
