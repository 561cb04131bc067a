//! Single-use decisions: which counters of one filter VM a sidecar has already accepted.
//!
//! A VM numbers its decisions 0, 1, 2, …; requests can overtake each other on the way, so
//! the verifier keeps the highest counter seen and a bitmap of the [`WINDOW`] counters
//! below it (the anti-replay window of IPsec, RFC 4303 §3.4.3). A counter seen before is a
//! replay; one more than [`WINDOW`] below the highest cannot be told apart from one and
//! is refused too. Memory: [`WINDOW`] bits per VM, whatever the request rate.

/// How far a request may fall behind later ones from the same VM and still be accepted.
pub const WINDOW: u64 = 1 << 16;
const WORDS: usize = (WINDOW / 64) as usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// The counter was accepted before.
    Seen,
    /// The counter is more than [`WINDOW`] below the highest accepted one.
    TooOld,
}

#[derive(Debug, Clone)]
pub struct ReplayWindow {
    /// Highest counter accepted, if any.
    highest: Option<u64>,
    /// Bit `c % WINDOW` is set when counter `c` (within the window) was accepted.
    seen: Box<[u64; WORDS]>,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow {
            highest: None,
            seen: Box::new([0; WORDS]),
        }
    }
}

impl ReplayWindow {
    /// Accepts `counter` once; any later attempt with it is refused.
    pub fn accept(&mut self, counter: u64) -> Result<(), Replay> {
        match self.highest {
            Some(highest) if counter <= highest => {
                if highest - counter >= WINDOW {
                    return Err(Replay::TooOld);
                }
                if self.bit(counter) {
                    return Err(Replay::Seen);
                }
            }
            Some(highest) => {
                // Slots between the old highest and the new one hold counters that fell
                // out of the window: clear them.
                if counter - highest >= WINDOW {
                    self.seen.fill(0);
                } else {
                    for c in highest + 1..counter {
                        self.clear(c);
                    }
                    self.clear(counter);
                }
                self.highest = Some(counter);
            }
            None => self.highest = Some(counter),
        }
        self.set(counter);
        Ok(())
    }

    fn slot(counter: u64) -> (usize, u64) {
        let bit = counter % WINDOW;
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    fn bit(&self, counter: u64) -> bool {
        let (word, mask) = Self::slot(counter);
        self.seen.get(word).is_some_and(|w| w & mask != 0)
    }

    fn set(&mut self, counter: u64) {
        let (word, mask) = Self::slot(counter);
        if let Some(w) = self.seen.get_mut(word) {
            *w |= mask;
        }
    }

    fn clear(&mut self, counter: u64) {
        let (word, mask) = Self::slot(counter);
        if let Some(w) = self.seen.get_mut(word) {
            *w &= !mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_counter_once_in_any_order() {
        let mut w = ReplayWindow::default();
        for c in [5, 3, 4, 9, 0, 1, 2, 8, 7, 6] {
            assert_eq!(w.accept(c), Ok(()), "{c}");
        }
        for c in 0..10 {
            assert_eq!(w.accept(c), Err(Replay::Seen), "{c}");
        }
    }

    #[test]
    fn the_window_slides() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.accept(10), Ok(()));
        assert_eq!(w.accept(10 + WINDOW - 1), Ok(()));
        // 10 is still inside the window, so still remembered.
        assert_eq!(w.accept(10), Err(Replay::Seen));
        assert_eq!(w.accept(11), Ok(()));
        assert_eq!(w.accept(10 + WINDOW), Ok(()));
        assert_eq!(w.accept(10), Err(Replay::TooOld));
        // Slots reused by the slide do not remember old counters.
        assert_eq!(w.accept(12), Ok(()));
        assert_eq!(w.accept(12 + WINDOW), Ok(()));
        assert_eq!(w.accept(12 + WINDOW), Err(Replay::Seen));
        // A jump beyond the window forgets everything below it.
        assert_eq!(w.accept(100 * WINDOW), Ok(()));
        assert_eq!(w.accept(100 * WINDOW - 1), Ok(()));
        assert_eq!(w.accept(99 * WINDOW), Err(Replay::TooOld));
        assert_eq!(w.accept(100 * WINDOW), Err(Replay::Seen));
    }

    #[test]
    fn extreme_counters_do_not_overflow() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.accept(u64::MAX), Ok(()));
        assert_eq!(w.accept(u64::MAX), Err(Replay::Seen));
        assert_eq!(w.accept(0), Err(Replay::TooOld));
    }
}
