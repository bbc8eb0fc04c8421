//! The engine's own writers (src/output.rs) produce files the report reads: summary.csv
//! from `write_summary_csv`, metrics.csv from `MetricsWriter`.
use credit_assign::output::{write_summary_csv, MetricsWriter, RunSummary, Status};
use credit_assign::report::{aggregate, read_aggregate, read_summary};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

fn summary(run: &str, seed: u64, status: Status, error: f64) -> RunSummary {
    RunSummary {
        experiment: "fig2-contract".into(),
        run: run.into(),
        rule: "np".into(),
        condition: "np sigma=0.01".into(),
        seed,
        status,
        diverged_at: (status == Status::Diverged).then_some(10),
        iterations: 20,
        seconds: 0.5,
        device: "cpu".into(),
        engine: "torch".into(),
        params: BTreeMap::from([("sigma".to_string(), 0.01)]),
        results: BTreeMap::from([("final_test_error".to_string(), error)]),
    }
}

#[test]
fn files_written_by_the_engine_are_read_by_the_report() {
    let exp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fig2-contract");
    if exp.exists() {
        fs::remove_dir_all(&exp).unwrap();
    }
    let runs = [
        summary("a", 0, Status::Completed, 0.04),
        summary("b", 1, Status::Completed, 0.06),
        summary("c", 2, Status::Diverged, f64::NAN),
    ];
    for (run, value) in runs.iter().zip([0.25, 0.75, f64::NAN]) {
        let dir = exp.join(&run.run);
        let mut m = MetricsWriter::create(&dir.join("metrics.csv")).unwrap();
        m.row(20, "rel_err", Some(3), value).unwrap();
        m.row(20, "test_error", None, value).unwrap();
        m.finish().unwrap();
        run.write_json(&dir).unwrap();
    }
    write_summary_csv(&exp.join("summary.csv"), &runs).unwrap();

    let read = read_summary(&exp).unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!(read[0].condition, "np sigma=0.01");
    assert_eq!(read[1].value("sigma"), Some(0.01));
    assert_eq!(read[1].value("final_test_error"), Some(0.06));
    assert!(!read[2].completed());

    let rows = read_aggregate(&aggregate(&exp).unwrap()).unwrap();
    let rel = rows
        .iter()
        .find(|r| r.metric == "rel_err" && r.layer == Some(3))
        .unwrap();
    assert_eq!((rel.stats.mean, rel.stats.se, rel.stats.n), (0.5, 0.25, 2));
    assert_eq!(rel.diverged, 1);
}
