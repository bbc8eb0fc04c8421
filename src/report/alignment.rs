//! Fig. 2's alignment panels as numbers: how far each learned B is from W over training, and
//! whether the paper's claims about them (NP's B closer to W than FA's, Fig. 2A–C) hold in
//! our runs, decided by the difference of means against its standard error.
use super::aggregate::MeanSe;
use super::figures::{display, Results};
use super::md::{md_table, stat_cell};
use std::fmt::Write as _;

/// Iterations at which the top layer's relative error is also shown (where the runs are
/// longer): the quick protocol's length, and where its rise over training is already clear.
const MARKS: [u64; 2] = [30_000, 200_000];

/// A difference counts when it is more than this many standard errors of the difference.
const SE_MULTIPLE: f64 = 2.0;

/// One claim of the paper about NP against FA.
struct Claim {
    panel: &'static str,
    metric: &'static str,
    what: &'static str,
    /// Whether NP's value should be the larger one.
    np_higher: bool,
    /// Decimals of the difference shown.
    decimals: usize,
}

const CLAIMS: [Claim; 3] = [
    Claim {
        panel: "2A",
        metric: "rel_err",
        what: "NP's relative error lower",
        np_higher: false,
        decimals: 3,
    },
    Claim {
        panel: "2B",
        metric: "angle_paper",
        what: "NP's angle lower",
        np_higher: false,
        decimals: 1,
    },
    Claim {
        panel: "2C",
        metric: "sign_congruence",
        what: "NP's sign congruence higher",
        np_higher: true,
        decimals: 3,
    },
];

/// The alignment table and the claims table, or an empty string when nothing was logged.
pub fn fig2_alignment(results: &Results) -> String {
    let b_layers: Vec<u32> = results.layers("rel_err").into_iter().flatten().collect();
    if b_layers.is_empty() {
        return String::new();
    }
    let mut md =
        String::from("\n### Alignment of B with W (panels A–C) and the true-gradient angle\n\n");
    md.push_str(&alignment_table(results, &b_layers));
    md.push_str(
        "\n`angle ∇W^l`: the angle between the update our rule gives W^l and the true gradient \
         (the honest metric beside the paper's `angle_paper`, which compares B with W).\n",
    );
    md.push_str(&claims_table(results, &b_layers));
    md
}

fn alignment_table(results: &Results, b_layers: &[u32]) -> String {
    let top = *b_layers.last().expect("non-empty");
    let last = results.runs.iter().map(|r| r.iterations).max().unwrap_or(0);
    let marks: Vec<u64> = MARKS.into_iter().filter(|&m| m < last).collect();
    let w_layers: Vec<u32> = results
        .layers("angle")
        .into_iter()
        .flatten()
        .rev()
        .collect();
    let mut header: Vec<String> = vec!["condition".into()];
    header.extend(
        marks
            .iter()
            .map(|m| format!("rel. error B{top} at {}", kilo(*m))),
    );
    header.extend(
        b_layers
            .iter()
            .rev()
            .map(|l| format!("rel. error B{l}, final")),
    );
    header.extend(
        b_layers
            .iter()
            .rev()
            .map(|l| format!("sign congr. B{l}, final")),
    );
    header.extend(
        b_layers
            .iter()
            .rev()
            .map(|l| format!("angle_paper B{l}, final (°)")),
    );
    header.extend(w_layers.iter().map(|l| format!("angle ∇W{l}, final (°)")));
    let rows: Vec<Vec<String>> = results
        .conditions
        .iter()
        .filter(|c| results.final_value(c, "rel_err", Some(top)).is_some())
        .map(|c| {
            let mut row = vec![display(c)];
            for &m in &marks {
                let v = results.value_at(c, "rel_err", Some(top), m).map(|(_, s)| s);
                row.push(stat_cell(v, 1.0, 3));
            }
            for (metric, decimals) in [("rel_err", 3), ("sign_congruence", 3), ("angle_paper", 1)] {
                for l in b_layers.iter().rev() {
                    row.push(stat_cell(
                        results.final_value(c, metric, Some(*l)),
                        1.0,
                        decimals,
                    ));
                }
            }
            for l in &w_layers {
                row.push(stat_cell(results.final_value(c, "angle", Some(*l)), 1.0, 1));
            }
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    md_table(&header, &rows)
}

/// `30k`, `200k`, `2M`.
fn kilo(iteration: u64) -> String {
    match iteration {
        i if i >= 1_000_000 && i % 1_000_000 == 0 => format!("{}M", i / 1_000_000),
        i if i % 1000 == 0 => format!("{}k", i / 1000),
        i => i.to_string(),
    }
}

/// Every np condition against fa, per layer and claim, at the final logged iteration: the
/// difference NP − FA and whether it bears the claim out.
fn claims_table(results: &Results, b_layers: &[u32]) -> String {
    let rule_of = |c: &str| {
        results
            .runs
            .iter()
            .find(|r| r.condition == c)
            .map(|r| r.rule.clone())
    };
    let Some(fa) = results
        .conditions
        .iter()
        .find(|c| rule_of(c).as_deref() == Some("fa"))
    else {
        return String::new();
    };
    let mut rows = Vec::new();
    for np in results
        .conditions
        .iter()
        .filter(|c| rule_of(c).as_deref() == Some("np"))
    {
        for l in b_layers.iter().rev() {
            let mut row = vec![display(np), format!("B{l}")];
            for claim in &CLAIMS {
                let n = results.final_value(np, claim.metric, Some(*l));
                let f = results.final_value(fa, claim.metric, Some(*l));
                row.push(verdict(n, f, claim));
            }
            rows.push(row);
        }
    }
    let header: Vec<String> = ["NP condition".to_string(), "layer".to_string()]
        .into_iter()
        .chain(CLAIMS.iter().map(|c| format!("{}: {}", c.panel, c.what)))
        .collect();
    let mut md = String::from(
        "\n### The paper's claims about NP's B against FA's, at the final iteration\n\n",
    );
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    md.push_str(&md_table(&header, &rows));
    let _ = writeln!(
        md,
        "\nEach cell: NP − FA, then whether the claim holds. \"yes\" and \"no\" need the \
         difference to exceed {SE_MULTIPLE} standard errors of the difference (√(s.e.²₁ + \
         s.e.²₂) over seeds); anything closer is \"not resolved\". With one seed there is no \
         s.e. and the verdict says so."
    );
    md
}

/// NP − FA, and whether NP's value `n` beats FA's `f` in the claim's direction.
fn verdict(n: Option<MeanSe>, f: Option<MeanSe>, claim: &Claim) -> String {
    let (Some(n), Some(f)) = (n.filter(|s| s.n > 0), f.filter(|s| s.n > 0)) else {
        return "— (not logged)".into();
    };
    let diff = format!("{:+.*}", claim.decimals, n.mean - f.mean);
    let d = if claim.np_higher {
        n.mean - f.mean
    } else {
        f.mean - n.mean
    };
    let se = (n.se.powi(2) + f.se.powi(2)).sqrt();
    if !se.is_finite() {
        let word = if d > 0.0 { "yes" } else { "no" };
        return format!("{diff}: {word} (one seed: no s.e.)");
    }
    if se == 0.0 && d == 0.0 {
        return format!("{diff}: equal");
    }
    let z = d / se; // ±inf where every seed agrees exactly
    if z > SE_MULTIPLE {
        format!("{diff}: yes ({z:.1} s.e.)")
    } else if z < -SE_MULTIPLE {
        format!("{diff}: **no**, the reverse ({:.1} s.e.)", -z)
    } else {
        format!("{diff}: not resolved ({z:+.1} s.e.)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(mean: f64, se: f64, n: usize) -> Option<MeanSe> {
        Some(MeanSe {
            mean,
            se,
            n,
            nonfinite: 0,
        })
    }

    #[test]
    fn verdicts_weigh_the_difference_against_its_standard_error() {
        let [rel_err, _, sign] = &CLAIMS;
        // rel_err: NP 0.5 ± 0.03 against FA 0.8 ± 0.04: lower by 0.3 / 0.05 = 6 s.e.
        assert_eq!(
            verdict(ms(0.5, 0.03, 5), ms(0.8, 0.04, 5), rel_err),
            "-0.300: yes (6.0 s.e.)"
        );
        // NP above FA by 0.21 / 0.05 = 4.2 s.e.: the claim is reversed.
        assert_eq!(
            verdict(ms(1.01, 0.03, 5), ms(0.8, 0.04, 5), rel_err),
            "+0.210: **no**, the reverse (4.2 s.e.)"
        );
        // sign congruence 0.71 ± 0.01 against 0.70 ± 0.01: +0.7 s.e.
        assert_eq!(
            verdict(ms(0.71, 0.01, 5), ms(0.70, 0.01, 5), sign),
            "+0.010: not resolved (+0.7 s.e.)"
        );
        assert_eq!(
            verdict(ms(0.9, f64::NAN, 1), ms(0.7, f64::NAN, 1), sign),
            "+0.200: yes (one seed: no s.e.)"
        );
        assert_eq!(
            verdict(ms(0.7, 0.0, 2), ms(0.7, 0.0, 2), sign),
            "+0.000: equal"
        );
        assert_eq!(verdict(None, ms(0.7, 0.1, 2), sign), "— (not logged)");
    }

    #[test]
    fn iterations_read_as_the_paper_counts_them() {
        assert_eq!(kilo(30_000), "30k");
        assert_eq!(kilo(2_000_000), "2M");
        assert_eq!(kilo(1_500_000), "1500k");
        assert_eq!(kilo(1234), "1234");
    }
}
