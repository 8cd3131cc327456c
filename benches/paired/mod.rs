//! Ratios of two sides' times from paired batches: a round runs a batch of each side back to
//! back, the side that goes first alternating, so a round's ratio does not depend on how fast
//! the machine was in that round, as two figures taken seconds or minutes apart do.

use std::time::Duration;

/// Our time over the baseline's: the median and the quartiles of `rounds` rounds' ratios.
/// `ours(n)` and `baseline(n)` do the work `n` times and return how long that took; `n` is the
/// count that makes a baseline batch last at least `batch`.
pub fn paired(
    ours: &mut dyn FnMut(usize) -> Duration,
    baseline: &mut dyn FnMut(usize) -> Duration,
    rounds: usize,
    batch: Duration,
) -> [f64; 3] {
    let mut n = 1;
    while n < 1 << 20 && baseline(n) < batch {
        n *= 2;
    }
    let mut ratios: Vec<f64> = (0..rounds.max(1))
        .map(|round| {
            let (t_ours, t_baseline) = if round % 2 == 0 {
                let a = ours(n);
                (a, baseline(n))
            } else {
                let b = baseline(n);
                (ours(n), b)
            };
            t_ours.as_secs_f64() / t_baseline.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: usize| ratios[(ratios.len() - 1) * q / 4];
    [at(2), at(1), at(3)]
}
