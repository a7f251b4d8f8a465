//! The per-element update loops of the optimisers, each one pass over a parameter and its
//! state with no temporaries.
//!
//! Why a separate file: speed. The crate is compiled for baseline x86-64 (SSE2), where
//! these loops run 4 lanes wide and `mul_add` is a call into libm per element (there is
//! no FMA instruction to lower it to). The loops are written once, as plain generic Rust
//! marked `#[inline(always)]`, and `ferrograd_tensor::dispatch_simd!` runs a copy compiled
//! with AVX-512 (16 `f32` lanes) or AVX2 + FMA (8 lanes) when the CPU has them (checked at
//! run time, cached by std). Nothing else changes:
//! - rustc never fuses `a * b + c` into an FMA on its own, so every plain `*` and `+`
//!   rounds exactly as in the SSE2 copy;
//! - `sqrt` and `/` are correctly rounded IEEE operations at any vector width;
//! - `mul_add` is a single-rounding FMA in both copies (libm's `fma` emulates it exactly).
//!
//! So both copies produce the same bits, and the trajectories of `tests/optim_reference.rs`
//! do not depend on the CPU.

use ferrograd_tensor::Float;

/// The loop-invariant numbers of one Adam step on one parameter.
#[derive(Clone, Copy)]
pub(crate) struct AdamStep<T> {
    pub beta1: T,
    pub beta2: T,
    pub eps: T,
    /// `lr / (1 − β₁ᵗ)`.
    pub step_size: T,
    /// `√(1 − β₂ᵗ)`.
    pub bias_correction2_sqrt: T,
    /// AdamW's `1 − lr·wd`; exactly 1 for Adam (and `x · 1 = x`, so no branch needed).
    pub decay: T,
    /// Adam's L2 term `wd`; 0 for AdamW.
    pub l2: T,
}

/// One Adam/AdamW step over a parameter `p` with gradient `g` and moments `m`, `v`,
/// PyTorch's single-tensor formula term for term (see `adam_loop`).
pub(crate) fn adam_update<T: Float>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    k: AdamStep<T>,
) {
    assert!(p.len() == g.len() && p.len() == m.len() && p.len() == v.len());
    ferrograd_tensor::dispatch_simd!(adam_loop::<T>(p, g, m, v, k))
}

/// `p ← p·decay`, `g ← g + l2·p`, `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − step_size · m / (√v / √(1−β₂ᵗ) + ε)`, all in one pass.
#[inline(always)]
fn adam_loop<T: Float>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], k: AdamStep<T>) {
    let (one_minus_b1, one_minus_b2) = (T::ONE - k.beta1, T::ONE - k.beta2);
    for (((x, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let xd = *x * k.decay;
        let g = g + k.l2 * xd;
        *m = k.beta1 * *m + one_minus_b1 * g;
        *v = k.beta2 * *v + one_minus_b2 * g * g;
        let denom = v.sqrt() / k.bias_correction2_sqrt + k.eps;
        *x = xd - k.step_size * *m / denom;
    }
}

/// The loop-invariant numbers of one SGD step.
#[derive(Clone, Copy)]
pub(crate) struct SgdStep<T> {
    pub lr: T,
    /// L2 weight decay, used when `weight_decay` is set.
    pub wd: T,
    pub weight_decay: bool,
    /// Momentum μ and `1 − dampening`, used when `momentum` is set.
    pub mu: T,
    pub damp: T,
    pub momentum: bool,
    pub nesterov: bool,
    /// The momentum buffer is new: it starts as the gradient itself (no dampening).
    pub first: bool,
}

/// One SGD step over `p` with gradient `g` and momentum buffer `buf` (same length as `p`
/// when `k.momentum`, ignored otherwise); see `sgd_loop`.
pub(crate) fn sgd_update<T: Float>(p: &mut [T], g: &[T], buf: &mut [T], k: SgdStep<T>) {
    assert!(p.len() == g.len() && (!k.momentum || buf.len() == p.len()));
    ferrograd_tensor::dispatch_simd!(sgd_loop::<T>(p, g, buf, k))
}

/// `g ← ∇ + wd·p`; `b ← g` (first step) or `μb + (1−τ)g`; `g ← g + μb` (Nesterov) or `b`;
/// `p ← p − lr·g` — the same operations (FMA where the old tensor-at-a-time code used
/// `add_scaled_`) in one pass. The flags do not change inside the loop, so each `if` is
/// predicted perfectly, and LLVM hoists them out (loop unswitching) when it can.
#[inline(always)]
fn sgd_loop<T: Float>(p: &mut [T], g: &[T], buf: &mut [T], k: SgdStep<T>) {
    let neg_lr = -k.lr;
    if !k.momentum {
        for (x, &g) in p.iter_mut().zip(g) {
            let g = if k.weight_decay {
                k.wd.mul_add(*x, g)
            } else {
                g
            };
            *x = neg_lr.mul_add(g, *x);
        }
        return;
    }
    for ((x, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
        let g = if k.weight_decay {
            k.wd.mul_add(*x, g)
        } else {
            g
        };
        *b = if k.first { g } else { k.mu * *b + k.damp * g };
        let g = if k.nesterov { k.mu.mul_add(*b, g) } else { *b };
        *x = neg_lr.mul_add(g, *x);
    }
}

ferrograd_tensor::simd_copies! {
    fn adam_loop[T: Float](p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], k: AdamStep<T>);
    fn sgd_loop[T: Float](p: &mut [T], g: &[T], buf: &mut [T], k: SgdStep<T>);
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Every copy the dispatcher may pick gives the bits of the baseline one.
    #[test]
    fn simd_copies_match_the_baseline_bit_for_bit() {
        let n = 1003; // not a multiple of any vector width: the tails run too
        let wave = |k: f32| {
            (0..n)
                .map(move |i| ((i as f32) * k).sin())
                .collect::<Vec<_>>()
        };
        let adam = AdamStep {
            beta1: 0.9f32,
            beta2: 0.999,
            eps: 1e-8,
            step_size: 1e-3 / (1.0 - 0.9f32.powi(3)),
            bias_correction2_sqrt: (1.0 - 0.999f32.powi(3)).sqrt(),
            decay: 1.0,
            l2: 0.01,
        };
        let sgd = SgdStep {
            lr: 0.1f32,
            wd: 0.01,
            weight_decay: true,
            mu: 0.9,
            damp: 0.9,
            momentum: true,
            nesterov: true,
            first: false,
        };
        type AdamFn = unsafe fn(&mut [f32], &[f32], &mut [f32], &mut [f32], AdamStep<f32>);
        type SgdFn = unsafe fn(&mut [f32], &[f32], &mut [f32], SgdStep<f32>);
        let mut copies: Vec<(&str, AdamFn, SgdFn)> = Vec::new();
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            copies.push(("avx2", avx2_fma::adam_loop, avx2_fma::sgd_loop));
        }
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
        {
            copies.push(("avx512", avx512::adam_loop, avx512::sgd_loop));
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let (g, p0, m0, v0) = (wave(0.37), wave(0.11), wave(0.05), wave(0.07));
        let v0: Vec<f32> = v0.iter().map(|x| x * x).collect();
        let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
        adam_loop(&mut p, &g, &mut m, &mut v, adam);
        let (mut ps, mut b) = (p0.clone(), m0.clone());
        sgd_loop(&mut ps, &g, &mut b, sgd);
        for (name, adam_copy, sgd_copy) in copies {
            let (mut p2, mut m2, mut v2) = (p0.clone(), m0.clone(), v0.clone());
            // SAFETY: the features were checked when the copy was listed.
            unsafe { adam_copy(&mut p2, &g, &mut m2, &mut v2, adam) };
            assert_eq!(bits(&p2), bits(&p), "{name} adam p");
            assert_eq!(bits(&m2), bits(&m), "{name} adam m");
            assert_eq!(bits(&v2), bits(&v), "{name} adam v");
            let (mut ps2, mut b2) = (p0.clone(), m0.clone());
            // SAFETY: as above.
            unsafe { sgd_copy(&mut ps2, &g, &mut b2, sgd) };
            assert_eq!(bits(&ps2), bits(&ps), "{name} sgd p");
            assert_eq!(bits(&b2), bits(&b), "{name} sgd buffer");
        }
    }
}
