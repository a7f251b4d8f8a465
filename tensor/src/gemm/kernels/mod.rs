//! Register-blocked micro-kernels, one file per instruction set.
//!
//! A micro-kernel computes one MR×NR tile of `C`:
//! `C[0..MR, 0..NR] = alpha * Apanel · Bpanel + beta * C[0..MR, 0..NR]`
//! where `Apanel` is `k` steps of MR values (one column of the A block each) and `Bpanel`
//! is `k` steps of NR values (one row of the B block each), both packed contiguously by
//! [`pack`](super::pack). The accumulators stay in registers for the whole `k` loop; each
//! step loads NR/lanes vectors of B, broadcasts MR scalars of A and issues MR·NR/lanes FMAs.
//! With `beta == 0`, `C` is only written, never read.
//!
//! Tiles are always full: the driver zero-pads partial panels and routes edge tiles through
//! a small temporary, so kernels have no edge cases.

pub(crate) mod scalar;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;

/// Largest MR×NR over all kernels (AVX-512 f32: 14×32), for the edge-tile temporary.
pub(crate) const MAX_TILE: usize = 14 * 32;

/// `ukr(k, a, rs_a, cs_a, b, rs_b, c, rs_c, alpha, beta)`: `A(i, p) = a[i*rs_a + p*cs_a]`
/// for `i < MR`, `B(p, j) = b[p*rs_b + j]` for `j < NR` (each step of B is contiguous).
///
/// A packed A panel has `rs_a = 1, cs_a = MR`, a packed B panel `rs_b = NR`; small and
/// low-reuse products pass the caller's matrices directly with their own strides. A
/// narrower kernel (usually NR/2 columns; see `Spec::ukr_narrow`) serves the last panel
/// of B when it has at most that many columns, so narrow products (n = 20 = 16 + 4)
/// waste less work on padding.
///
/// # Safety
/// The caller guarantees that every `A(i, p)` (`i < MR, p < k`) and `B(p, j)`
/// (`p < k, j < NR`) address is valid for reading, that for every `i < MR` the `NR`
/// elements starting at `c + i * rs_c` are valid for writing (and reading, if
/// `beta != 0`) and not otherwise aliased, and that the CPU supports the kernel's
/// instruction set (checked by [`dispatch::spec`](super::dispatch::spec)).
pub(crate) type KernelFn<E> =
    unsafe fn(usize, *const E, usize, usize, *const E, usize, *mut E, usize, E, E);

/// Asks for the cache line holding `p` to be brought into L1 (a hint: never faults, even
/// for an invalid address). A no-op where we have no portable prefetch instruction.
#[inline(always)]
pub(crate) fn prefetch<E>(p: *const E) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is part of SSE (baseline on x86-64) and does not access memory
    // architecturally: it cannot fault or change any value.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Generates a SIMD micro-kernel with MR rows and NV vectors (of `lanes` elements) per
/// row, reading A through arbitrary strides (a packed panel passes `rs_a = 1, cs_a = MR`;
/// the strides only change how the broadcast addresses advance, not the FMA stream). The
/// body is the same for every ISA; only the vector type and intrinsics differ, so the AVX2
/// instances (tested on this machine) vouch for the logic of the others.
///
/// `fn full(E, mr = .., nv = N, lanes = L) + half(nv = H);` generates the full kernel and
/// its half-width companion (for the last, narrow panel of B) from one intrinsic list.
macro_rules! simd_kernel {
    (
        $(#[$attr:meta])*
        fn $direct:ident($E:ty, mr = $MR:literal, nv = $NV:literal, lanes = $L:literal)
            + $half:ident(nv = $NVH:literal);
        zero = $zero:expr,
        load = $load:path,
        store = $store:path,
        splat = $splat:path,
        fma = $fma:path,
        mul = $mul:path $(,)?
    ) => {
        simd_kernel! {
            $(#[$attr])*
            fn $direct($E, mr = $MR, nv = $NV, lanes = $L);
            zero = $zero, load = $load, store = $store, splat = $splat, fma = $fma, mul = $mul,
        }
        simd_kernel! {
            $(#[$attr])*
            fn $half($E, mr = $MR, nv = $NVH, lanes = $L);
            zero = $zero, load = $load, store = $store, splat = $splat, fma = $fma, mul = $mul,
        }
    };
    (
        $(#[$attr:meta])*
        fn $direct:ident($E:ty, mr = $MR:literal, nv = $NV:literal, lanes = $L:literal);
        zero = $zero:expr,
        load = $load:path,
        store = $store:path,
        splat = $splat:path,
        fma = $fma:path,
        mul = $mul:path $(,)?
    ) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        pub(crate) unsafe fn $direct(
            k: usize,
            a: *const $E,
            rs_a: usize,
            cs_a: usize,
            b: *const $E,
            rs_b: usize,
            c: *mut $E,
            rs_c: usize,
            alpha: $E,
            beta: $E,
        ) {
            /// The kernel body. `UNIT_RS` (packed panels and column-major A: the MR
            /// elements of a step are contiguous) makes the broadcast offsets compile-time
            /// constants; otherwise (row-major A read in place) the MR row offsets are
            /// computed once, and either way a step costs one pointer bump for A.
            $(#[$attr])*
            #[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
            unsafe fn body<const UNIT_RS: bool>(
                k: usize,
                a: *const $E,
                rs_a: usize,
                cs_a: usize,
                b: *const $E,
                rs_b: usize,
                c: *mut $E,
                rs_c: usize,
                alpha: $E,
                beta: $E,
            ) {
                const MR: usize = $MR;
                const NV: usize = $NV;
                let off: [usize; MR] = if UNIT_RS {
                    std::array::from_fn(|i| i)
                } else {
                    // Opaque to the optimiser on purpose: otherwise it strength-reduces
                    // the row addresses into a chain of one add per row per k step; kept
                    // opaque they stay in registers as `base + offset` addressing.
                    std::hint::black_box(std::array::from_fn(|i| i * rs_a))
                };
                // SAFETY: the caller upholds the `KernelFn` contract: every A(i, p) / B(p, j)
                // read below is inside the caller's panels, the MR×NR tile at `c` (row
                // stride `rs_c`) is ours, and the CPU has the features this function is
                // compiled for.
                unsafe {
                    // The C tile is needed only after the k loop; start fetching its
                    // lines now (every byte of each row: the first element of each vector
                    // and the row's last element), so that the loads of `beta * C` and
                    // the stores do not stall on L2/L3 misses after the loop. C is the one
                    // operand not packed into cache-friendly panels: its rows are far
                    // apart, so the hardware prefetchers do not see them coming.
                    for i in 0..MR {
                        for v in 0..NV {
                            $crate::gemm::kernels::prefetch(c.wrapping_add(i * rs_c + v * $L));
                        }
                        $crate::gemm::kernels::prefetch(c.wrapping_add(i * rs_c + NV * $L - 1));
                    }
                    let mut acc = [[$zero; NV]; MR];
                    // One k step: NV vectors of B row `p`, MR broadcasts of A column `p`.
                    // The panel pointers are formed from `p < k` only: bumping a running
                    // pointer after the last step would point up to a whole row/column
                    // past the caller's slice when A or B is read in place, and `add`
                    // beyond one-past-the-end is undefined behaviour even if never read.
                    // The optimiser still turns `p * stride` into pointer increments.
                    macro_rules! step {
                        ($p:expr) => {{
                            let ap = a.add($p * cs_a);
                            let bp = b.add($p * rs_b);
                            let mut bv = [$zero; NV];
                            for v in 0..NV {
                                bv[v] = $load(bp.add(v * $L));
                            }
                            for i in 0..MR {
                                let av = $splat(*ap.add(off[i]));
                                for v in 0..NV {
                                    acc[i][v] = $fma(av, bv[v], acc[i][v]);
                                }
                            }
                        }};
                    }
                    // Unrolled by two: more independent work per iteration, half the
                    // loop overhead.
                    // ANCHOR: simd_step
                    let mut p = 0;
                    while p + 2 <= k {
                        step!(p);
                        step!(p + 1);
                        p += 2;
                    }
                    // ANCHOR_END: simd_step
                    if p < k {
                        step!(p);
                    }
                    let alphav = $splat(alpha);
                    if beta == 0.0 {
                        for i in 0..MR {
                            for v in 0..NV {
                                $store(c.add(i * rs_c + v * $L), $mul(alphav, acc[i][v]));
                            }
                        }
                    } else {
                        let betav = $splat(beta);
                        for i in 0..MR {
                            for v in 0..NV {
                                let p = c.add(i * rs_c + v * $L);
                                $store(p, $fma(betav, $load(p), $mul(alphav, acc[i][v])));
                            }
                        }
                    }
                }
            }

            // SAFETY: same contract, forwarded; `body` has the same target features.
            unsafe {
                if rs_a == 1 {
                    body::<true>(k, a, rs_a, cs_a, b, rs_b, c, rs_c, alpha, beta)
                } else {
                    body::<false>(k, a, rs_a, cs_a, b, rs_b, c, rs_c, alpha, beta)
                }
            }
        }
    };
}
pub(crate) use simd_kernel;
