//! Order statistics of measured samples (median, p90, p99). Pure; knows
//! nothing of what was measured.

/// The `q` quantile (0..=1) by linear interpolation between closest ranks
/// (the usual "type 7"); `None` for no samples. NaNs are ignored.
pub fn quantile(samples: &[f64], q: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let frac = rank - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

pub fn median(samples: &[f64]) -> Option<f64> {
    quantile(samples, 0.5)
}

pub fn p90(samples: &[f64]) -> Option<f64> {
    quantile(samples, 0.9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_samples_have_no_quantiles() {
        assert_eq!(median(&[]), None);
        assert_eq!(quantile(&[f64::NAN], 0.5), None);
    }

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let s = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(median(&s), Some(2.5));
        assert_eq!(quantile(&s, 0.0), Some(1.0));
        assert_eq!(quantile(&s, 1.0), Some(4.0));
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((quantile(&hundred, 0.99).unwrap() - 99.01).abs() < 1e-9);
        assert!((p90(&hundred).unwrap() - 90.1).abs() < 1e-9);
    }

    #[test]
    fn one_sample_is_every_quantile() {
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(p90(&[7.0]), Some(7.0));
    }
}
