//! The run-time choice between copies of one loop compiled for different vector widths.
//!
//! The crates are compiled for baseline x86-64 (SSE2: 4 `f32` lanes, and `mul_add` a call
//! into libm). A loop that should run wider is written once as plain generic Rust marked
//! `#[inline(always)]`; [`simd_copies!`](crate::simd_copies) writes a module `avx512` and
//! a module `avx2_fma` beside it, holding thin wrappers marked
//! `#[target_feature(enable = "avx512f,avx2,fma")]` and
//! `#[target_feature(enable = "avx2,fma")]` into which the body is inlined and compiled
//! for that width. [`dispatch_simd!`](crate::dispatch_simd) calls the widest copy the CPU
//! supports (`is_x86_feature_detected!` caches its answer after the first call).
//!
//! The copies compute the same bits as long as the body leaves nothing to the compiler's
//! discretion: rustc never contracts `a * b + c` into an FMA by itself, `sqrt` and `/` are
//! correctly rounded at any width, and `mul_add` is a single rounding in every copy
//! (libm's `fma` emulates it exactly). The optimisers (`ferrograd-nn`), the `f32`
//! exp/ln of the softmax family, the row folds of the reductions and the squared
//! differences of the MSE use it.

/// Declares the SIMD copies of `#[inline(always)]` functions of the calling module: for
/// each `fn name[generics](args);` (or `fn name[generics](args) -> Ret;`) a wrapper
/// `avx512::name` and `avx2_fma::name` compiled with those features, which calls
/// `super::name`. Generics go in brackets (empty when
/// there are none); the wrappers see the caller's imports. See the
/// [module docs](crate::simd).
///
/// ```
/// use ferrograd_tensor::Float;
///
/// #[inline(always)]
/// fn scale_loop<T: Float>(xs: &mut [T], k: T) {
///     xs.iter_mut().for_each(|x| *x = *x * k);
/// }
///
/// ferrograd_tensor::simd_copies! {
///     fn scale_loop[T: Float](xs: &mut [T], k: T);
/// }
///
/// fn scale<T: Float>(xs: &mut [T], k: T) {
///     ferrograd_tensor::dispatch_simd!(scale_loop(xs, k))
/// }
///
/// fn main() {
///     let mut v = [1.0f32, 2.0, 3.0];
///     scale(&mut v, 2.0);
///     assert_eq!(v, [2.0, 4.0, 6.0]);
/// }
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! simd_copies {
    ($(fn $name:ident [$($gen:tt)*] ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)?;)+) => {
        $crate::simd_copies!(@copy avx2_fma, "avx2,fma", $(fn $name [$($gen)*] ($($arg: $ty),*) -> ($($ret)?);)+);
        $crate::simd_copies!(@copy avx512, "avx512f,avx2,fma", $(fn $name [$($gen)*] ($($arg: $ty),*) -> ($($ret)?);)+);
    };
    (@copy $module:ident, $features:literal, $(fn $name:ident [$($gen:tt)*] ($($arg:ident : $ty:ty),*) -> ($($ret:ty)?);)+) => {
        #[cfg(target_arch = "x86_64")]
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[target_feature(enable = $features)]
                pub(super) fn $name<$($gen)*>($($arg: $ty),*) $(-> $ret)? {
                    super::$name($($arg),*)
                }
            )+
        }
    };
}

/// Calls `$body_fn($args…)` (optionally `$body_fn::<T>(…)`) through the copy in the
/// caller's `avx512` or `avx2_fma` module when the CPU has those features, otherwise the
/// baseline function itself; returns its result from the enclosing function. See the
/// [module docs](crate::simd).
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch_simd {
    ($body_fn:ident $(::<$t:ty>)? ($($arg:expr),* $(,)?)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU has AVX-512F, AVX2 and FMA, checked just above.
                return unsafe { avx512::$body_fn $(::<$t>)? ($($arg),*) };
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU has AVX2 and FMA, checked just above.
                return unsafe { avx2_fma::$body_fn $(::<$t>)? ($($arg),*) };
            }
        }
        $body_fn $(::<$t>)? ($($arg),*)
    }};
}
