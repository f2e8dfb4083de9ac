//! Where the generator's choices come from: a seeded PRNG, or the bytes of
//! a fuzzer input (so that libFuzzer's mutations map to program changes).

/// A stream of choices.
pub trait Entropy {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// Uniform in `0..n` (0 when `n == 0`).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// One element of a non-empty slice (the first for an empty-entropy source).
    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T>
    where
        Self: Sized,
    {
        let i = self.below(items.len() as u64) as usize;
        items.get(i).copied()
    }

    /// An index chosen with probability proportional to `weights`
    /// (`None` when all are zero).
    fn weighted(&mut self, weights: &[u32]) -> Option<usize> {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            let w = u64::from(*w);
            if x < w {
                return Some(i);
            }
            x -= w;
        }
        None
    }
}

/// SplitMix64, seeded.
#[derive(Clone, Debug)]
pub struct SeedRng(u64);

impl SeedRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl Entropy for SeedRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Choices read from fuzzer bytes, 8 at a time; zeros once they run out,
/// which steers the generator to its first (shortest) options.
#[derive(Clone, Debug)]
pub struct ByteEntropy<'a> {
    data: &'a [u8],
}

impl<'a> ByteEntropy<'a> {
    /// Reads choices from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Whether every byte was used.
    pub fn is_exhausted(&self) -> bool {
        self.data.is_empty()
    }
}

impl Entropy for ByteEntropy<'_> {
    fn next_u64(&mut self) -> u64 {
        let n = self.data.len().min(8);
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        u64::from_le_bytes(buf)
    }
}
