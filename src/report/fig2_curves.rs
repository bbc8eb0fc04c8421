//! Fig. 2's BP and FA over training against the authors' notebook: our test error at the
//! iterations where the notebook's curves were read, beside those readings. Our BP and FA
//! match the notebook at 0.5M iterations and learn more slowly after 1M; this table, for
//! `fig2-official` and each experiment that varies it, shows whether a change closes that.
use super::figures::Results;
use super::md::{md_table, stat_cell};
use super::paper;
use std::fmt::Write as _;

/// The table of every condition the notebook has a curve for, or None where the runs are
/// shorter than the last reading (a quick run) or have no such condition.
pub fn table(results: &Results) -> Option<String> {
    let last = paper::FIG2_NOTEBOOK_CURVES[0].1.last()?.0;
    let mut rows = Vec::new();
    for (rule, readings) in paper::FIG2_NOTEBOOK_CURVES.iter() {
        let Some(c) = (results.conditions.iter()).find(|c| paper::same_condition(c, rule)) else {
            continue;
        };
        let mut ours = vec![rule.to_string()];
        let mut theirs = vec![format!("{rule}, notebook")];
        for &(at, notebook) in readings.iter() {
            // The evaluation at exactly `at`: the curves are read there, not before.
            let at_reading =
                (results.value_at(c, "test_error", None, at)).filter(|(i, _)| *i == at);
            ours.push(stat_cell(at_reading.map(|o| o.1), 100.0, 2));
            theirs.push(notebook.map_or("—".into(), |v| format!("{v:.2}")));
        }
        rows.extend([ours, theirs]);
    }
    let full = results.runs.iter().any(|r| r.iterations >= last);
    if rows.is_empty() || !full {
        return None;
    }
    let mut header = vec!["condition".to_string()];
    for &(at, _) in paper::FIG2_NOTEBOOK_CURVES[0].1.iter() {
        header.push(format!("test error at {}M (%)", at as f64 / 1e6));
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut md = String::from("\n### BP and FA over training, against the authors' notebook\n\n");
    md.push_str(&md_table(&header, &rows));
    let _ = writeln!(md, "\n{}", paper::FIG2_NOTEBOOK_CURVES_NOTE);
    Some(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_published_fig2_official_sets_bp_and_fa_beside_the_notebook() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/fig2-official");
        let md = table(&Results::load(&dir).unwrap()).expect("a full-length experiment");
        let row = |rule: &str| {
            (md.lines())
                .find(|l| l.starts_with(&format!("| {rule} |")))
                .unwrap_or_else(|| panic!("no {rule} row in\n{md}"))
                .to_string()
        };
        // Ours at exactly each reading's iteration, the notebook's readings below.
        assert!(
            !row("bp").contains('—'),
            "an evaluation is missing: {}",
            row("bp")
        );
        assert_eq!(
            row("bp, notebook"),
            "| bp, notebook | 4.50 | 3.40 | 3.00 | 2.75 |"
        );
        assert!(
            row("fa, notebook").contains("| — |"),
            "FA was not read at 1M"
        );
    }
}
