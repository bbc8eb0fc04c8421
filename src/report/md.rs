//! Markdown cells and tables for the report.
use super::aggregate::MeanSe;

/// `+1.23` / `-1.23`.
pub fn signed(v: f64, decimals: usize) -> String {
    format!("{v:+.decimals$}")
}

pub fn md_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

/// `mean ± se (n=k)`, `mean (n=1)`, or `—` with no finite value.
pub fn stat_cell(s: Option<MeanSe>, scale: f64, decimals: usize) -> String {
    match s {
        Some(s) if s.n > 1 => format!(
            "{:.decimals$} ± {:.decimals$} (n={})",
            s.mean * scale,
            s.se * scale,
            s.n
        ),
        Some(s) if s.n == 1 => format!("{:.decimals$} (n=1)", s.mean * scale),
        _ => "—".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_differences_carry_their_sign() {
        assert_eq!(signed(0.094, 2), "+0.09");
        assert_eq!(signed(-1.5, 1), "-1.5");
    }

    #[test]
    fn markdown_table_has_header_rule_and_rows() {
        let t = md_table(&["a", "b"], &[vec!["1".into(), "2".into()]]);
        assert_eq!(t, "| a | b |\n|---|---|\n| 1 | 2 |\n");
    }
}
