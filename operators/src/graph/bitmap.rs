//! Bitmaps as plain `u64` words: which vertices broadcast in a superstep, which mirror
//! values came. Bit `i` is bit `i % 64` of word `i / 64`.

/// The words a bitmap of `bits` bits takes.
#[inline]
pub(crate) fn words(bits: usize) -> usize {
    bits.div_ceil(64)
}

/// Whether bit `i` is set; a bit past the words is not.
#[inline(always)]
pub(crate) fn is_set(words: &[u64], i: usize) -> bool {
    words.get(i >> 6).is_some_and(|w| w & (1 << (i & 63)) != 0)
}

/// Sets bit `i`.
#[inline(always)]
pub(crate) fn set(words: &mut [u64], i: usize) {
    words[i >> 6] |= 1 << (i & 63);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_set_and_read_across_words() {
        let mut bitmap = vec![0u64; words(130)];
        assert_eq!(bitmap.len(), 3);
        for i in [0, 63, 64, 129] {
            set(&mut bitmap, i);
        }
        let got: Vec<usize> = (0..200).filter(|&i| is_set(&bitmap, i)).collect();
        assert_eq!(got, vec![0, 63, 64, 129]);
    }
}
