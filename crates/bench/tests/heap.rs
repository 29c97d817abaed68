//! The counting allocator measures what a closure allocates: one known allocation inside
//! the measured closure shows up in its peak, and memory allocated before the closure (the
//! setup) or freed inside it does not raise the next measurement.
//!
//! One test function in its own test binary: the counters are process-wide, and a second
//! test running on another thread would add its allocations to the peak.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use conclave_bench::heap::{CountingAllocator, current_bytes, is_counting, measure_peak};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator;

const MIB: u64 = 1 << 20;

#[test]
fn the_counter_measures_a_known_allocation_and_nothing_outside_it() {
    assert!(is_counting());

    // 1 MiB allocated and freed inside the closure: peak at least 1 MiB, little more.
    let ((), peak) = measure_peak(|| {
        let block = std::hint::black_box(vec![7u8; 1 << 20]);
        assert_eq!(block.len(), 1 << 20);
    });
    let peak = peak.unwrap();
    assert!((MIB..MIB + 64 * 1024).contains(&peak), "peak {peak}");

    // Setup before the closure does not count: 8 MiB held outside, nothing inside.
    let held = std::hint::black_box(vec![1u8; 8 << 20]);
    let before = current_bytes();
    let (sum, peak) = measure_peak(|| held.iter().map(|&b| u64::from(b)).sum::<u64>());
    assert_eq!(sum, 8 * MIB);
    assert!(peak.unwrap() < 64 * 1024, "peak {peak:?}");
    drop(held);
    assert!(current_bytes() + 8 * (1 << 20) <= before + 64 * 1024);

    // Growing by reallocation counts the growth: a Vec pushed to 2 MiB.
    let (grown, peak) = measure_peak(|| {
        let mut v: Vec<u8> = Vec::new();
        for i in 0..(2u32 << 20) {
            v.push(i.to_le_bytes()[0]);
        }
        v
    });
    assert_eq!(grown.len(), 2 << 20);
    let peak = peak.unwrap();
    // Doubling ends at a 2 MiB capacity; a moving realloc is counted as its growth only.
    assert!(
        (2 * MIB..2 * MIB + 64 * 1024).contains(&peak),
        "peak {peak}"
    );

    // What a closure returns stays counted in the next level, not in the next peak.
    let ((), peak) = measure_peak(|| drop(std::hint::black_box(grown)));
    assert!(peak.unwrap() < 64 * 1024);
}
