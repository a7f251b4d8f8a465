//! Training for many steps must not grow memory: every step's graph is freed by
//! `backward` (and by `Rc` when the step's values go out of scope).
//!
//! A counting global allocator measures live heap bytes directly, so the test sees a
//! leak even when the OS would not report one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use ferrograd_autograd::Var;
use ferrograd_tensor::Tensor;

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with the same layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn ten_thousand_training_steps_keep_memory_flat() {
    let x = Var::constant(Tensor::<f32>::from_fn([16, 8], |i| (i % 7) as f32 * 0.1));
    let y = Var::constant(Tensor::<f32>::from_fn([16, 4], |i| (i % 3) as f32 * 0.2));
    let w1 = Var::leaf(Tensor::<f32>::from_fn([8, 8], |i| {
        ((i * 37 % 11) as f32 - 5.0) * 0.05
    }));
    let w2 = Var::leaf(Tensor::<f32>::from_fn([4, 8], |i| {
        ((i * 17 % 7) as f32 - 3.0) * 0.05
    }));
    let step = || {
        let h = x.linear(&w1, None).relu();
        let loss = h
            .linear(&w2, None)
            .mse_loss(&y, ferrograd_autograd::Reduction::Mean);
        let grads = loss.backward();
        for w in [&w1, &w2] {
            let g = grads.get(w).unwrap().clone();
            w.value_mut().add_scaled_(-0.01, &g);
        }
        loss.item()
    };
    let first_loss = step();
    for _ in 0..100 {
        step();
    }
    let after_warmup = LIVE_BYTES.load(Ordering::Relaxed);
    let mut last_loss = 0.0;
    for _ in 0..10_000 {
        last_loss = step();
    }
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    let growth = after - after_warmup;
    eprintln!("live heap after warm-up {after_warmup} B, after 10,000 more steps {after} B");
    assert!(
        growth.abs() < 4096,
        "memory grew by {growth} bytes over 10,000 steps"
    );
    assert!(
        last_loss < first_loss,
        "the model should train: {first_loss} -> {last_loss}"
    );
}
