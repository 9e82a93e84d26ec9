//! Logarithmic slider scales over "nice" values: four stops per doubling
//! (1, 1.25, 1.5, 1.75 × a power of two), so a slider covers 512 … 128K tokens or
//! 1 … 512 sequences in a few dozen even steps and every stop is a round number.

/// The stops from `min` to `max` inclusive, ascending and without repeats.
/// `max` itself is always the last stop, even when it is not a round number.
pub fn stops(min: u32, max: u32) -> Vec<u32> {
    let min = min.max(1);
    let max = max.max(min);
    let mut out = vec![min];
    // The largest power of two not above `min`.
    let mut base = 1u64 << (31 - min.leading_zeros());
    'outer: loop {
        for quarter in [4u64, 5, 6, 7] {
            let v = base * quarter / 4;
            if v >= u64::from(max) {
                break 'outer;
            }
            let v = v as u32;
            if v > *out.last().unwrap_or(&0) {
                out.push(v);
            }
        }
        base *= 2;
    }
    if *out.last().unwrap_or(&0) != max {
        out.push(max);
    }
    out
}

/// The slider position showing `value`: the last stop not above it.
pub fn position(stops: &[u32], value: u32) -> usize {
    stops.iter().rposition(|s| *s <= value).unwrap_or_default()
}

/// The value at a slider position (clamped to the last stop).
pub fn value_at(stops: &[u32], position: usize) -> u32 {
    stops
        .get(position.min(stops.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_stops_are_round_and_end_at_the_maximum() {
        let s = stops(512, 131_072);
        assert_eq!(&s[..6], [512, 640, 768, 896, 1024, 1280]);
        assert_eq!(s.last(), Some(&131_072));
        assert_eq!(s.len(), 33);
        assert!(s.contains(&8192) && s.contains(&32_768));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        // A maximum that is not a round number is still the last stop.
        let odd = stops(512, 10_000);
        assert_eq!(odd[odd.len() - 2..], [8192, 10_000]);
    }

    #[test]
    fn sequence_stops_start_at_one_without_repeats() {
        let s = stops(1, 512);
        assert_eq!(&s[..10], [1, 2, 3, 4, 5, 6, 7, 8, 10, 12]);
        assert_eq!(s.last(), Some(&512));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn positions_round_trip_and_clamp() {
        let s = stops(512, 32_768);
        for (i, v) in s.iter().enumerate() {
            assert_eq!(position(&s, *v), i);
            assert_eq!(value_at(&s, i), *v);
        }
        assert_eq!(position(&s, 9000), position(&s, 8192));
        assert_eq!(position(&s, 1), 0);
        assert_eq!(value_at(&s, 999), 32_768);
        assert_eq!(stops(512, 512), [512]);
    }
}
