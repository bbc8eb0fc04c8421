//! Aggregation over seeds against hand-computed means and standard errors.
use credit_assign::report::{aggregate, plot, read_aggregate, AggregateRow};
use std::fs;
use std::path::{Path, PathBuf};

fn fresh(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(exp: &Path, run: &str, metrics: &str) {
    fs::create_dir_all(exp.join(run)).unwrap();
    fs::write(
        exp.join(run).join("metrics.csv"),
        format!("iteration,metric,layer,value\n{metrics}"),
    )
    .unwrap();
}

/// fa: two seeds; bp: three seeds, one NaN; np σ=0.1: one completed, one diverged.
fn write_experiment(exp: &Path) {
    fs::write(
        exp.join("summary.csv"),
        "experiment,run,rule,condition,seed,status,diverged_at,iterations,seconds,device,sigma,final_test_error\n\
         fig2-agg,fa-0,fa,fa,0,completed,,100,1.0,cpu,,0.05\n\
         fig2-agg,fa-1,fa,fa,1,completed,,100,1.0,cpu,,0.07\n\
         fig2-agg,bp-0,bp,bp,0,completed,,100,1.0,cpu,,0.01\n\
         fig2-agg,bp-1,bp,bp,1,completed,,100,1.0,cpu,,0.02\n\
         fig2-agg,bp-2,bp,bp,2,completed,,100,1.0,cpu,,0.03\n\
         fig2-agg,np-0,np,np sigma=0.1,0,completed,,100,1.0,cpu,0.1,0.2\n\
         fig2-agg,np-1,np,np sigma=0.1,1,diverged,50,50,0.5,cpu,0.1,\n",
    )
    .unwrap();
    run(
        exp,
        "fa-0",
        "0,test_error,,0.9\n100,test_error,,0.05\n100,rel_err,3,1.25\n",
    );
    run(
        exp,
        "fa-1",
        "0,test_error,,0.9\n100,test_error,,0.07\n100,rel_err,3,1.35\n",
    );
    run(exp, "bp-0", "0,angle,1,NaN\n100,test_error,,1\n");
    run(exp, "bp-1", "0,angle,1,4\n100,test_error,,2\n");
    run(exp, "bp-2", "0,angle,1,6\n100,test_error,,3\n");
    run(exp, "np-0", "100,test_error,,0.2\n");
    // A diverged run's metrics must not enter the mean.
    run(exp, "np-1", "0,test_error,,1000\n50,test_error,,NaN\n");
}

fn find<'a>(
    rows: &'a [AggregateRow],
    condition: &str,
    metric: &str,
    layer: Option<u32>,
    iteration: u64,
) -> &'a AggregateRow {
    rows.iter()
        .find(|r| {
            r.condition == condition
                && r.metric == metric
                && r.layer == layer
                && r.iteration == iteration
        })
        .unwrap_or_else(|| panic!("no row {condition} {metric} {layer:?} {iteration}"))
}

/// Equal to float32 precision: aggregate.csv writes means and s.e. as float32.
fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-7 * b.abs(), "{a} != {b}");
}

#[test]
fn mean_and_standard_error_over_seeds_by_hand() {
    let exp = fresh("fig2-agg");
    write_experiment(&exp);
    let path = aggregate(&exp).unwrap();
    assert_eq!(path, exp.join("aggregate.csv"));
    let rows = read_aggregate(&path).unwrap();

    // fa at 100: 0.05 and 0.07 → mean 0.06, sd 0.01·√2, se = sd/√2 = 0.01.
    let fa = find(&rows, "fa", "test_error", None, 100);
    close(fa.stats.mean, 0.06);
    close(fa.stats.se, 0.01);
    assert_eq!((fa.stats.n, fa.diverged), (2, 0));
    // Per-layer rows keep their layer: 1.25 and 1.35 → 1.3 ± 0.05.
    let rel = find(&rows, "fa", "rel_err", Some(3), 100);
    close(rel.stats.mean, 1.3);
    close(rel.stats.se, 0.05);

    // bp at 100: 1, 2, 3 → mean 2, sd 1, se 1/√3.
    let bp = find(&rows, "bp", "test_error", None, 100);
    close(bp.stats.mean, 2.0);
    close(bp.stats.se, 1.0 / 3f64.sqrt());
    assert_eq!(bp.stats.n, 3);
    // A NaN in a completed run is not counted: 4 and 6 → 5 ± 1, n = 2.
    let angle = find(&rows, "bp", "angle", Some(1), 0);
    close(angle.stats.mean, 5.0);
    close(angle.stats.se, 1.0);
    assert_eq!(angle.stats.n, 2);
    assert_eq!(angle.stats.nonfinite, 1, "the NaN is counted, not dropped");
    assert_eq!(bp.stats.nonfinite, 0);

    // np σ=0.1: the diverged seed is left out and counted; one value has no s.e.
    let np = find(&rows, "np sigma=0.1", "test_error", None, 100);
    close(np.stats.mean, 0.2);
    assert!(np.stats.se.is_nan());
    assert_eq!((np.stats.n, np.diverged), (1, 1));
    assert!(
        !rows
            .iter()
            .any(|r| r.condition == "np sigma=0.1" && r.iteration != 100),
        "rows of the diverged run leaked into the aggregate"
    );

    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("condition,metric,layer,iteration,mean,se,n,n_nonfinite,diverged\n"));
    let angle_line = text
        .lines()
        .find(|l| l.starts_with("bp,angle,1,0,"))
        .unwrap();
    assert!(
        angle_line.ends_with(",2,1,0"),
        "n = 2, n_nonfinite = 1 (the NaN), diverged = 0: {angle_line}"
    );
    assert!(
        text.contains("\nbp,test_error,,100,2,0.57735026,3,0,0\n"),
        "mean and s.e. in float32's shortest form (1/√3 = 0.57735026…):\n{text}"
    );
    assert!(
        text.contains("\nnp sigma=0.1,test_error,,100,0.2,,1,0,1\n"),
        "one value must leave se blank:\n{text}"
    );
}

#[test]
fn plot_reaggregates_when_metrics_change() {
    let exp = fresh("fig2-stale");
    write_experiment(&exp);
    aggregate(&exp).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    run(&exp, "fa-1", "0,test_error,,0.9\n100,test_error,,0.09\n");
    plot(&exp).unwrap();
    let rows = read_aggregate(&exp.join("aggregate.csv")).unwrap();
    close(find(&rows, "fa", "test_error", None, 100).stats.mean, 0.07);
}

#[test]
fn bad_input_is_an_error_that_names_the_file() {
    let exp = fresh("fig2-bad");
    let err = aggregate(&exp).unwrap_err();
    assert!(format!("{err:#}").contains("summary.csv"), "{err:#}");

    write_experiment(&exp);
    fs::write(
        exp.join("fa-0").join("metrics.csv"),
        "iteration,metric,value\n1,x,2\n",
    )
    .unwrap();
    let err = format!("{:#}", aggregate(&exp).unwrap_err());
    assert!(err.contains("fa-0") && err.contains("`layer`"), "{err}");

    run(&exp, "fa-0", "ten,test_error,,0.9\n");
    let err = format!("{:#}", aggregate(&exp).unwrap_err());
    assert!(err.contains("line 2") && err.contains("iteration"), "{err}");
}

#[test]
fn an_aggregate_with_old_columns_is_rewritten() {
    let exp = fresh("fig2-oldcols");
    write_experiment(&exp);
    aggregate(&exp).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // newer than every input, but written before n_nonfinite existed
    fs::write(
        exp.join("aggregate.csv"),
        "condition,metric,layer,iteration,mean,se,n,diverged\nfa,test_error,,100,9,,1,0\n",
    )
    .unwrap();
    plot(&exp).unwrap();
    let rows = read_aggregate(&exp.join("aggregate.csv")).unwrap();
    close(find(&rows, "fa", "test_error", None, 100).stats.mean, 0.06);
    assert_eq!(find(&rows, "bp", "angle", Some(1), 0).stats.nonfinite, 1);
}
