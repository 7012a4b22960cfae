//! Kubernetes resource quantities (`512Mi`, `32Gi`, `1.5G`, `500m`, `1e3`):
//! parsing to a number of base units and formatting memory sizes back.

/// A quantity that is not in Kubernetes' format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Kubernetes quantity (e.g. 512Mi, 32Gi, 1.5G, 500m)")]
pub struct QuantityError(pub String);

const KI: f64 = 1024.0;

/// Parses a quantity to base units (bytes for memory, cores for CPU).
pub fn parse(s: &str) -> Result<f64, QuantityError> {
    let t = s.trim();
    let err = || QuantityError(s.to_owned());
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    if num.is_empty() || num == "." {
        return Err(err());
    }
    let n: f64 = num.parse().map_err(|_| err())?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => KI,
        "Mi" => KI * KI,
        "Gi" => KI * KI * KI,
        "Ti" => KI.powi(4),
        "Pi" => KI.powi(5),
        "Ei" => KI.powi(6),
        e if (e.starts_with('e') || e.starts_with('E')) && e.len() > 1 => {
            let exp: i32 = e[1..].parse().map_err(|_| err())?;
            10f64.powi(exp)
        }
        _ => return Err(err()),
    };
    let v = n * mult;
    if !v.is_finite() || v < 0.0 {
        return Err(err());
    }
    Ok(v)
}

/// Formats a byte count as a memory quantity, rounding up to a whole `Mi`
/// (exact values keep the largest binary suffix that divides them: `16Gi`,
/// `39322Mi`, `512Ki`).
pub fn format_bytes(bytes: f64) -> String {
    let b = bytes.max(0.0).ceil() as u128;
    const MI: u128 = 1 << 20;
    // (Saturating: a value past u128, from an absurd quantity or an
    // infinite product, is printed as it is, never overflowed.)
    let b = if b.is_multiple_of(1024) { b } else { b.div_ceil(MI).checked_mul(MI).unwrap_or(b) };
    for (suffix, unit) in [("Ti", 1u128 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if b >= unit && b.is_multiple_of(unit) {
            return format!("{}{suffix}", b / unit);
        }
    }
    b.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `tests/no_panic.rs` (`workloads_and_nodes_into_plans`): a
    /// workload's huge memory value overflowed the rounding to `Mi`.
    #[test]
    fn huge_and_non_finite_byte_counts_are_formatted_without_overflow() {
        for b in [f64::MAX, f64::INFINITY, 1e38, 3.4e38, f64::NAN, -1.0] {
            let s = format_bytes(b);
            assert!(!s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()), "{b}: {s}");
        }
        assert_eq!(format_bytes(f64::INFINITY), u128::MAX.to_string());
        assert_eq!(format_bytes(1.5 * 1048576.0 + 1.0), "2Mi");
    }

    #[test]
    fn parses_binary_decimal_and_exponent_forms() {
        assert_eq!(parse("512Mi").unwrap(), 512.0 * 1048576.0);
        assert_eq!(parse("32Gi").unwrap(), 32.0 * 1073741824.0);
        assert_eq!(parse("1.5G").unwrap(), 1.5e9);
        assert_eq!(parse("500m").unwrap(), 0.5);
        assert_eq!(parse("1e3").unwrap(), 1000.0);
        assert_eq!(parse("128974848").unwrap(), 128974848.0);
        assert!(parse("12 apples").is_err());
        assert!(parse("Gi").is_err());
        assert!(parse("-1Gi").is_err());
    }

    #[test]
    fn formats_round_up_to_mebibytes() {
        assert_eq!(format_bytes(16.0 * 1073741824.0), "16Gi");
        assert_eq!(format_bytes(32.0 * 1073741824.0 * 1.2), "39322Mi");
        assert_eq!(format_bytes(1.0e9), "954Mi");
        assert_eq!(format_bytes(524288.0), "512Ki");
    }
}
