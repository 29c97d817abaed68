//! Data-parallel loops for the per-recipient and per-member work of large commits: the
//! HPKE encryptions of an UpdatePath (RFC 9420 §7.6) and of a Welcome (§12.4.3.1), and the
//! signature checks of many KeyPackages (§10.1, §12.2) or of a joiner's tree (§12.4.3.1).
//!
//! With the `parallel` feature (on by default) a loop of at least [`MIN_PARALLEL`] items
//! runs on rayon's global thread pool, whose size the application controls; otherwise it
//! runs in order on the caller's thread. The protocol stays sans-IO: randomness is drawn
//! from the caller's source before the loop, in item order, so the output is the same for
//! any number of threads.

use conclave_crypto::{CryptoError, CryptoRandom};
use zeroize::Zeroizing;

/// Below this many items a loop runs on the caller's thread.
#[cfg_attr(not(feature = "parallel"), allow(dead_code))]
pub(crate) const MIN_PARALLEL: usize = 8;

/// `items.map(f)`, stopping at an error (the first in item order when run in order).
pub(crate) fn try_map<T, R, E, F>(items: &[T], f: F) -> Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send,
    F: Fn(&T) -> Result<R, E> + Sync + Send,
{
    #[cfg(feature = "parallel")]
    if items.len() >= MIN_PARALLEL {
        use rayon::prelude::*;
        return items.par_iter().map(f).collect();
    }
    items.iter().map(f).collect()
}

/// `items.map(f)` for work that cannot fail: in parallel from [`MIN_PARALLEL`] items.
pub(crate) fn map<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync + Send,
{
    #[cfg(feature = "parallel")]
    if items.len() >= MIN_PARALLEL {
        use rayon::prelude::*;
        return items.par_iter().map(f).collect();
    }
    items.iter().map(f).collect()
}

/// `items.map(f)` for a few large items (such as one chunk of work per thread): in
/// parallel from two items on.
pub(crate) fn map_large<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync + Send,
{
    #[cfg(feature = "parallel")]
    if items.len() > 1 {
        use rayon::prelude::*;
        return items.par_iter().map(f).collect();
    }
    items.iter().map(f).collect()
}

/// The threads a loop may use: rayon's pool size with the `parallel` feature, else 1.
pub(crate) fn threads() -> usize {
    #[cfg(feature = "parallel")]
    return rayon::current_num_threads().max(1);
    #[cfg(not(feature = "parallel"))]
    1
}

/// `f` on each part of `items` split into one chunk per thread (at least `min_chunk` items
/// each), the chunks in parallel where enabled: for work that is cheaper done in large
/// pieces, such as batch signature verification.
pub(crate) fn try_for_each_chunk<T, E, F>(items: &[T], min_chunk: usize, f: F) -> Result<(), E>
where
    T: Sync,
    E: Send,
    F: Fn(&[T]) -> Result<(), E> + Sync + Send,
{
    let chunk = items.len().div_ceil(threads()).max(min_chunk).max(1);
    let chunks: Vec<&[T]> = items.chunks(chunk).collect();
    #[cfg(feature = "parallel")]
    if chunks.len() > 1 {
        use rayon::prelude::*;
        return chunks.par_iter().try_for_each(|c| f(c));
    }
    chunks.into_iter().try_for_each(f)
}

/// `(a(), b())`, side by side on rayon's pool when `worth_it` and the pool has more than one
/// thread, else one after the other: for independent passes over one large input (the
/// hashing passes of a large commit, RFC 9420 §6.1, §6.2, §8.2).
pub(crate) fn join<A, B, RA, RB>(worth_it: bool, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    #[cfg(feature = "parallel")]
    if worth_it && threads() > 1 {
        return rayon::join(a, b);
    }
    #[cfg(not(feature = "parallel"))]
    let _ = worth_it;
    (a(), b())
}

/// `(background(), foreground())`: `background` on rayon's pool while the caller runs
/// `foreground` (which may use the pool itself, and need not be `Send`: it may hold the
/// caller's random source), when `worth_it` and the pool has more than one thread; else
/// one after the other. For work that does not depend on a loop of HPKE encryptions but
/// would otherwise wait for it: the ratchet tree's encoding for the GroupInfo beside the
/// UpdatePath's encryptions (RFC 9420 §7.6, §12.4.3).
pub(crate) fn beside<A, B, RA, RB>(worth_it: bool, background: A, foreground: B) -> (RA, RB)
where
    A: Fn() -> RA + Sync,
    RA: Send,
    B: FnOnce() -> RB,
{
    #[cfg(feature = "parallel")]
    if worth_it && threads() > 1 {
        let mut done = None;
        let fore = rayon::in_place_scope(|scope| {
            scope.spawn(|_| done = Some(background()));
            foreground()
        });
        // The scope waits for its spawned task, so `done` is set; were it not, the work is
        // simply done here.
        let back = match done {
            Some(back) => back,
            None => background(),
        };
        return (back, fore);
    }
    #[cfg(not(feature = "parallel"))]
    let _ = worth_it;
    (background(), foreground())
}

/// [`try_map`] where each item also gets its own random source: `bytes_each` bytes drawn
/// from `rng` for it up front (an item that asks for more fails with
/// [`CryptoError::RandomFailed`]). HPKE `Encap` draws `Nsk` bytes once (RFC 9180 §4).
pub(crate) fn try_map_with_random<T, R, E, F>(
    items: &[T],
    bytes_each: usize,
    rng: &mut dyn CryptoRandom,
    f: F,
) -> Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send + From<CryptoError>,
    F: Fn(&T, &mut dyn CryptoRandom) -> Result<R, E> + Sync + Send,
{
    let total = items
        .len()
        .checked_mul(bytes_each)
        .ok_or(CryptoError::RandomFailed)?;
    let mut pool = Zeroizing::new(vec![0u8; total]);
    rng.fill(&mut pool)?;
    let jobs: Vec<(&T, &[u8])> = items.iter().zip(pool.chunks(bytes_each.max(1))).collect();
    try_map(&jobs, |(item, random)| {
        let mut source = PreDrawn(random);
        f(item, &mut source)
    })
}

/// Random bytes drawn in advance for one item.
struct PreDrawn<'a>(&'a [u8]);

impl CryptoRandom for PreDrawn<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        let (head, rest) = self
            .0
            .split_at_checked(dest.len())
            .ok_or(CryptoError::RandomFailed)?;
        dest.copy_from_slice(head);
        self.0 = rest;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conclave_crypto::SeededRng;

    #[test]
    fn every_item_gets_its_own_bytes_in_order() {
        let items: Vec<u32> = (0..100).collect();
        let mut rng = SeededRng::new(7);
        let got = try_map_with_random(&items, 4, &mut rng, |i, r| {
            let mut b = [0u8; 4];
            r.fill(&mut b)?;
            Ok::<_, CryptoError>((*i, b))
        })
        .unwrap();
        let mut expected = vec![0u8; 400];
        SeededRng::new(7).fill(&mut expected).unwrap();
        for (k, (i, b)) in got.iter().enumerate() {
            assert_eq!(*i as usize, k);
            assert_eq!(b[..], expected[4 * k..4 * k + 4]);
        }
    }

    #[test]
    fn drawing_more_than_was_drawn_for_an_item_fails() {
        let items = [1u8; 20];
        let mut rng = SeededRng::new(1);
        let result = try_map_with_random(&items, 2, &mut rng, |_, r| {
            let mut b = [0u8; 3];
            r.fill(&mut b)
        });
        assert_eq!(result, Err(CryptoError::RandomFailed));
    }

    #[test]
    fn the_first_error_is_reported() {
        let items: Vec<u32> = (0..50).collect();
        let result = try_map(&items, |i| if *i == 30 { Err(*i) } else { Ok(*i) });
        assert_eq!(result, Err(30));
    }
}
