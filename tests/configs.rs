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

/// `training.engine: auto` gives the fused engine every program of the peers' benchmarks and
/// of the every-rule Fig. 2 config on the CPU (their rules, losses and reductions are all on
/// it), as written and with --quick.
#[test]
fn the_peers_configs_run_on_the_fused_engine_on_the_cpu() {
    for name in ["peers-mnist", "peers-cifar10", "rules-fig2"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs")
            .join(format!("{name}.yaml"));
        for quick in [false, true] {
            let value = load_value(&path, quick).unwrap();
            let exp = if value.get("search").is_some() {
                credit_assign::mlp::search::expand(value, None, 0, name).map(|e| e.exp)
            } else {
                Experiment::from_value(value, name)
            }
            .unwrap();
            for group in sweep::programs(&exp).unwrap() {
                credit_assign::fused::check(&exp, &group, tch::Device::Cpu).unwrap_or_else(|e| {
                    panic!(
                        "{name}: {} is not on the fused engine: {e:#}",
                        group.spec.rule.name()
                    )
                });
            }
        }
    }
}
