//! `training.init_seed`: the runs of an entry start from one network (W, and B or frSF's
//! |M|) and still differ in data order and noise, on both engines.
mod common;

use credit_assign::fused;
use credit_assign::mlp::{sweep, tasks, Trainer};
use std::path::Path;
use tch::{Device, Tensor};

fn config(run: &str, init_seed: &str) -> String {
    format!(
        "experiment: init-seed\ntask: classify\n\
         data: {{ dataset: synthetic-mnist, train_size: 400, test_size: 50 }}\n\
         network: {{ sizes: [784, 12, 8, 10], activations: [sigmoid, tanh, sigmoid] }}\n\
         training: {{ iterations: 40, batch_size: 16, log_every: 40, eval_every: 40, \
         seeds: [3, 11]{init_seed} }}\n\
         runs:\n  - {run}\n"
    )
}

/// Whether members 0 and 1 of every `[M, ...]` tensor are equal.
fn members_alike(ts: &[Tensor]) -> bool {
    ts.iter().all(|t| t.get(0).equal(&t.get(1)))
}

fn torch_trainer(run: &str, init_seed: &str) -> (Trainer, tasks::TaskData) {
    let exp = common::experiment(&config(run, init_seed));
    let group = &sweep::programs(&exp).unwrap()[0];
    let data = tasks::load(&exp, Path::new("data"), Device::Cpu).unwrap();
    let trainer = Trainer::new(&exp, group, data.train_len(), Device::Cpu).unwrap();
    (trainer, data)
}

#[test]
fn a_shared_init_seed_starts_every_run_alike_on_the_torch_engine() {
    for run in ["{ rule: fa, lr: 0.05 }", "{ rule: frsf, lr: 0.05 }"] {
        let (own, _) = torch_trainer(run, "");
        assert!(!members_alike(&own.net.w), "{run}: own seeds, one W");
        let (mut shared, data) = torch_trainer(run, ", init_seed: 7");
        assert!(members_alike(&shared.net.w), "{run}: W differs");
        assert!(members_alike(&shared.fb.b), "{run}: B differs");
        let named: Vec<Tensor> = (shared.save().into_iter())
            .filter(|(k, _)| k.starts_with("b.") || k.starts_with("m."))
            .map(|(_, t)| t)
            .collect();
        assert!(
            members_alike(&named),
            "{run}: the rule's drawn state differs"
        );
        // One network, two data orders: the runs part at the first step.
        shared.step(&data, false);
        assert!(
            !members_alike(&shared.net.w),
            "{run}: the data order is shared too"
        );
    }
}

#[test]
fn a_shared_init_seed_starts_every_run_alike_on_the_fused_engine() {
    let exp = common::experiment(&config("{ rule: frsf, lr: 0.05 }", ", init_seed: 7"));
    let group = &sweep::programs(&exp).unwrap()[0];
    let data = tasks::load(&exp, Path::new("data"), Device::Cpu).unwrap();
    let mut t = fused::Trainer::new(&exp, group, &data, 1).unwrap();
    let state = |t: &fused::Trainer| -> Vec<Tensor> {
        (t.save().into_iter())
            .filter(|(k, _)| k.starts_with("w.") || k.starts_with("b.") || k.starts_with("m."))
            .map(|(_, t)| t)
            .collect()
    };
    assert!(members_alike(&state(&t)), "W, B or |M| differs");
    // The torch engine draws the same initial network.
    let (torch, _) = torch_trainer("{ rule: frsf, lr: 0.05 }", ", init_seed: 7");
    assert!(t.net().w[0].equal(&torch.net.w[0]));
    t.step(false).unwrap();
    let w: Vec<Tensor> = state(&t).into_iter().take(1).collect();
    assert!(!members_alike(&w), "the data order is shared too");
}
