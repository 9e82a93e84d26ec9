//! Lease arithmetic every face shares: what a lease costs, when it ends, and how its
//! idle limit reads. Pure functions; callers pass the clock in.

/// Seconds in an hour, the unit leases are given in.
pub const SECONDS_PER_HOUR: u64 = 3600;

/// Dollars for a whole lease of `hours` at `price_per_hour_usd`.
pub fn cost_usd(price_per_hour_usd: f64, hours: u32) -> f64 {
    price_per_hour_usd * f64::from(hours)
}

/// The lease deadline (Unix seconds) of a lease of `hours` starting at `start`.
pub fn deadline(start: u64, hours: u32) -> u64 {
    start.saturating_add(u64::from(hours) * SECONDS_PER_HOUR)
}

/// The idle limit as a launch summary shows it: `off` for 0, else `N min`.
pub fn idle_limit_label(idle_minutes: u32) -> String {
    match idle_minutes {
        0 => "off".to_owned(),
        m => format!("{m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_arithmetic() {
        assert_eq!(cost_usd(2.49, 4), 2.49 * 4.0);
        assert_eq!(deadline(100, 4), 100 + 4 * 3600);
        assert_eq!(deadline(u64::MAX, 1), u64::MAX);
        assert_eq!(idle_limit_label(0), "off");
        assert_eq!(idle_limit_label(30), "30 min");
    }
}
