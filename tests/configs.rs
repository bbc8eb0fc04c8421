//! Every shipped MLP config parses and validates, as written and with --quick (search
//! configs as `credit search` expands them).
use credit_assign::config::{kind_of, load_value};
use credit_assign::mlp::{sweep, Experiment};

#[test]
fn every_shipped_mlp_config_is_valid_full_and_quick() {
    let mut checked = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        for quick in [false, true] {
            let value =
                load_value(&path, quick).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            if kind_of(&value) != "mlp" {
                continue;
            }
            let origin = path.display().to_string();
            // A search config (`search:` block) is checked as `credit search` expands it.
            let exp = if value.get("search").is_some() {
                credit_assign::mlp::search::expand(value, None, 0, &origin).map(|e| e.exp)
            } else {
                Experiment::from_value(value, &origin)
            }
            .unwrap_or_else(|e| panic!("{} (quick {quick}): {e:#}", path.display()));
            assert_eq!(exp.experiment.ends_with("-quick"), quick);
            assert!(!sweep::programs(&exp).unwrap().is_empty());
            checked += 1;
        }
    }
    assert!(
        checked >= 12,
        "expected fig2, fig2-official, fig3, fig3-official, fig4, theory: {checked}"
    );
}
