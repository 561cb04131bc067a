//! Where the shared walk ([`super::walk`]) has to stop, found 16 bytes at a time: the
//! starts of words that can begin an entity (a digit, an upper-case letter, the first
//! letter of a credential prefix) and the punctuation that can (`+ ( - @ :`). Every
//! other byte — letters inside words, the words that cannot start anything, spaces —
//! is passed without a look of its own. In the filter (wasm32 built with `simd128`)
//! a block's masks are a handful of SIMD compares; elsewhere they come from a table,
//! byte by byte, with the same answer (`tests`, and the wasm run of them in `make test`).

/// Bytes per block.
pub(super) const BLOCK: usize = 16;

/// The walk's stops in the block of `b` at `base` (bit k: byte `base + k`), and whether
/// the block's last byte is a letter or digit (the next block's words may continue it).
/// `prev_alnum`: whether the byte before the block is a letter or digit. Past the end
/// of `b` the block reads as zero bytes, which are never stops.
pub(super) fn block(b: &[u8], base: usize, prev_alnum: bool) -> (u16, bool) {
    let full = b
        .get(base..base + BLOCK)
        .and_then(|s| <&[u8; BLOCK]>::try_from(s).ok());
    let masks = match full {
        Some(block) => masks(block),
        None => {
            let mut padded = [0u8; BLOCK];
            let tail = b.get(base..).unwrap_or_default();
            let n = tail.len().min(BLOCK);
            padded[..n].copy_from_slice(&tail[..n]);
            masks(&padded)
        }
    };
    let starts = masks.alnum & !((masks.alnum << 1) | u16::from(prev_alnum));
    (
        (starts & masks.starts_entity) | masks.punct,
        masks.alnum & 0x8000 != 0,
    )
}

/// Per byte of a block (bit k: byte k).
#[derive(Debug, PartialEq, Eq)]
struct Masks {
    /// ASCII letters and digits.
    alnum: u16,
    /// Bytes that can begin an entity when they start a word: digits, upper-case
    /// letters, and the credential prefixes' first letters (`g x s e`; `A` is upper).
    starts_entity: u16,
    /// `+ ( - @ :`: bytes between words that can begin or anchor an entity; and `\`,
    /// which ends the plain read of a JSON text (`walk::find_in_json`).
    punct: u16,
}

const ALNUM: u8 = 1;
const STARTS_ENTITY: u8 = 2;
const PUNCT: u8 = 4;

static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            table[c] |= ALNUM;
        }
        if b.is_ascii_digit() || b.is_ascii_uppercase() || matches!(b, b'g' | b'x' | b's' | b'e') {
            table[c] |= STARTS_ENTITY;
        }
        if matches!(b, b'+' | b'(' | b'-' | b'@' | b':' | b'\\') {
            table[c] |= PUNCT;
        }
        c += 1;
    }
    table
};

#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
fn masks_by_table(block: &[u8; BLOCK]) -> Masks {
    let mut m = Masks {
        alnum: 0,
        starts_entity: 0,
        punct: 0,
    };
    for (k, &c) in block.iter().enumerate() {
        let class = CLASS[usize::from(c)];
        m.alnum |= u16::from(class & ALNUM != 0) << k;
        m.starts_entity |= u16::from(class & STARTS_ENTITY != 0) << k;
        m.punct |= u16::from(class & PUNCT != 0) << k;
    }
    m
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn masks(block: &[u8; BLOCK]) -> Masks {
    masks_by_table(block)
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn masks(block: &[u8; BLOCK]) -> Masks {
    use core::arch::wasm32::{
        u8x16, u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_splat, u8x16_sub, v128, v128_or,
    };
    let [b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15] = *block;
    let v = u8x16(
        b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15,
    );
    // `x - lo < n` (wrapping, unsigned): x in lo..lo+n.
    let within = |x: v128, lo: u8, n: u8| u8x16_lt(u8x16_sub(x, u8x16_splat(lo)), u8x16_splat(n));
    let is = |c: u8| u8x16_eq(v, u8x16_splat(c));
    let digit = within(v, b'0', 10);
    // Setting bit 5 folds upper case onto lower case (and nothing else onto a..z).
    let letter = within(v128_or(v, u8x16_splat(0x20)), b'a', 26);
    let upper = within(v, b'A', 26);
    let prefix = v128_or(v128_or(is(b'g'), is(b'x')), v128_or(is(b's'), is(b'e')));
    let punct = v128_or(
        v128_or(v128_or(is(b'+'), is(b'(')), v128_or(is(b'-'), is(b'@'))),
        v128_or(is(b':'), is(b'\\')),
    );
    Masks {
        alnum: u8x16_bitmask(v128_or(digit, letter)),
        starts_entity: u8x16_bitmask(v128_or(v128_or(digit, upper), prefix)),
        punct: u8x16_bitmask(punct),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stops, one byte at a time (what the masks must equal).
    fn stops_one_by_one(b: &[u8]) -> Vec<usize> {
        let alnum = |c: u8| c.is_ascii_alphanumeric();
        (0..b.len())
            .filter(|&i| {
                let c = b[i];
                let word_start = alnum(c) && (i == 0 || !alnum(b[i - 1]));
                let entity = c.is_ascii_digit()
                    || c.is_ascii_uppercase()
                    || matches!(c, b'g' | b'x' | b's' | b'e');
                (word_start && entity) || matches!(c, b'+' | b'(' | b'-' | b'@' | b':' | b'\\')
            })
            .collect()
    }

    fn stops_by_blocks(b: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let (mut base, mut prev) = (0, false);
        while base < b.len() {
            let (mut stops, last) = block(b, base, prev);
            while stops != 0 {
                out.push(base + stops.trailing_zeros() as usize);
                stops &= stops - 1;
            }
            prev = last;
            base += BLOCK;
        }
        out
    }

    #[test]
    fn blocks_stop_where_a_byte_by_byte_look_stops() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33) as usize % n
        };
        // Every byte value, and runs that cross block edges.
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(stops_by_blocks(&all), stops_one_by_one(&all));
        let alphabet = b"aAgxse09Zz+(-@: .,_\\\xc3\xa9\x00\x7f\xff";
        for len in 0..200 {
            for _ in 0..20 {
                let text: Vec<u8> = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
                assert_eq!(stops_by_blocks(&text), stops_one_by_one(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn every_byte_value_is_classified_like_the_table() {
        for first in (0..=255u8).step_by(16) {
            let mut block = [0u8; BLOCK];
            for (k, b) in block.iter_mut().enumerate() {
                *b = first.wrapping_add(k as u8);
            }
            assert_eq!(masks(&block), masks_by_table(&block), "{first}");
        }
    }
}
