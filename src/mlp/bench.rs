//! `credit bench`: the cost of one training step per rule and member count, measured as ratios
//! within one run (np against bp; M = 1 against many) and against a large SGEMM's rate.
use super::config::Experiment;
use super::engine::{Engine, EngineKind};
use super::{sweep, tasks};
use crate::device::synchronize;
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// One timed configuration of an MLP.
pub struct MlpRow {
    pub network: &'static str,
    pub engine: EngineKind,
    pub rule: &'static str,
    pub members: usize,
    /// Program steps per second (each step advances all M runs).
    pub steps_per_s: f64,
    /// M × steps per second.
    pub run_steps_per_s: f64,
    pub gflops: f64,
    /// libtorch's CPU threads during the run.
    pub threads: i32,
    /// This process's CPU time per run-step, µs (all threads together). On a loaded machine
    /// this is the steadier number: with one thread it is the wall time the step would take
    /// on an idle core.
    pub cpu_us_per_run_step: f64,
}

pub struct Network {
    pub name: &'static str,
    pub sizes: &'static [i64],
    pub activations: &'static str,
    pub task: &'static str,
    /// The bench's data: MNIST-shaped, with MNIST's sparsity where the fused engine runs.
    pub dataset: &'static str,
    /// More `training:` settings (the loss), each with a leading ", ".
    pub training: &'static str,
    /// The rules timed.
    pub rules: &'static [&'static str],
}

pub const FIG2: Network = Network {
    name: "fig2 784-50-20-10",
    sizes: &[784, 50, 20, 10],
    activations: "[sigmoid, sigmoid, identity]",
    task: "classify",
    dataset: "synthetic-mnist-sparse",
    training: "",
    rules: &["bp", "fa", "np"],
};
/// Fig. 2's network with the peers' loss (a sigmoid output, sigmoid cross-entropy averaged
/// over the batch) and their rules, at rules-fig2.yaml's settings.
pub const FIG2_PEERS: Network = Network {
    name: "fig2-peers 784-50-20-10 sigmoid CE",
    sizes: &[784, 50, 20, 10],
    activations: "[sigmoid, sigmoid, sigmoid]",
    task: "classify",
    dataset: "synthetic-mnist-sparse",
    training: ", loss: sigmoid_cross_entropy, loss_reduction: mean",
    rules: &["bp", "kp", "wm", "brsf"],
};
pub const FIG3: Network = Network {
    name: "fig3 784-200-2-200-784",
    sizes: &[784, 200, 2, 200, 784],
    activations: "[tanh, identity, tanh, relu]",
    task: "autoencode",
    dataset: "synthetic-mnist",
    training: "",
    rules: &["bp", "fa", "np"],
};

/// The rule's settings as in the figure it comes from.
fn run_line(network: &Network, rule: &str) -> String {
    let fig3 = network.task == "autoencode";
    match (rule, fig3) {
        ("np", false) => "{ rule: np, lr: 4.0e-4, sigma: 0.01, solver: ridge, gamma: 0.1 }".into(),
        ("np", true) => "{ rule: np, lr: 1.0e-4, sigma: 0.018942, solver: sgd, lr_b: 8.0e-6, perturb_bias: false }".into(),
        ("kp", _) => "{ rule: kp, lr: 4.0e-5, decay: 1.0e-5 }".into(),
        ("wm", _) => "{ rule: wm, lr: 4.0e-5, mirror: decay, mirror_lr: 0.1, mirror_sigma: 1.0, mirror_decay: 0.1 }".into(),
        (r, _) => format!("{{ rule: {r}, lr: 4.0e-5 }}"),
    }
}

/// GFLOP/s of a large single-precision matrix product on `device`: the practical ceiling.
pub fn sgemm_gflops(device: Device) -> f64 {
    let n = 1024;
    let a = Tensor::randn([n, n], (Kind::Float, device));
    let b = Tensor::randn([n, n], (Kind::Float, device));
    let _ = a.matmul(&b);
    synchronize(device);
    let reps = 10;
    let start = Instant::now();
    for _ in 0..reps {
        let _ = a.matmul(&b);
    }
    synchronize(device);
    2.0 * (n * n * n) as f64 * reps as f64 / start.elapsed().as_secs_f64() / 1e9
}

/// Time `steps` steps of `rule` with M members on synthetic MNIST-shaped data:
/// `Trainer::step` alone, best of three, after one untimed step.
pub fn time_mlp(
    network: &Network,
    engine: EngineKind,
    (rule, members): (&'static str, usize),
    steps: u64,
    device: Device,
) -> Result<MlpRow> {
    let seeds: Vec<String> = (0..members).map(|s| s.to_string()).collect();
    let yaml = format!(
        "experiment: bench\ntask: {}\ndata: {{ dataset: {}, train_size: 4096, test_size: 64 }}\n\
         network: {{ sizes: {:?}, activations: {} }}\n\
         training: {{ iterations: {steps}, batch_size: 32, log_every: {steps}, eval_every: {steps}, seeds: [{}]{} }}\n\
         runs:\n  - {}\n",
        network.task,
        network.dataset,
        network.sizes,
        network.activations,
        seeds.join(", "),
        network.training,
        run_line(network, rule)
    );
    let exp = Experiment::from_value(serde_yaml::from_str(&yaml)?, "bench")?;
    let data = tasks::load(&exp, Path::new("data"), device)?;
    let group = &sweep::programs(&exp)?[0];
    let dense_flops = crate::cost::step_flops(network.sizes, 32, rule) * members as f64;
    crate::device::threads_for(device, dense_flops);
    let mut flops = dense_flops;
    let _guard = tch::no_grad_guard();
    let (mut secs, mut cpu, mut threads) = (f64::INFINITY, f64::INFINITY, 1);
    for _ in 0..3 {
        let mut trainer = Engine::new(engine, &exp, group, &data, device)?;
        threads = match &trainer {
            Engine::Fused(f) => {
                let d = f.input_density();
                flops = crate::cost::fused_step_flops(network.sizes, 32, rule, d) * members as f64;
                f.threads() as i32
            }
            Engine::Torch(_) => tch::get_num_threads(),
        };
        trainer.step(&data, false)?;
        synchronize(device);
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        trainer.advance(&data, steps + 1);
        synchronize(device);
        secs = secs.min(start.elapsed().as_secs_f64());
        cpu = cpu.min(cpu_seconds() - cpu_start);
    }
    let steps_per_s = steps as f64 / secs.max(1e-9);
    Ok(MlpRow {
        network: network.name,
        engine,
        rule,
        members,
        steps_per_s,
        run_steps_per_s: steps_per_s * members as f64,
        gflops: flops * steps_per_s / 1e9,
        threads,
        cpu_us_per_run_step: 1e6 * cpu / (steps as f64 * members as f64),
    })
}

/// CPU time of this process so far, seconds (all threads).
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// One configuration of PyTorch (scripts/bench_torch.py): its per-member loop or its
/// batched (bmm over members) form.
pub struct TorchRow {
    pub rule: String,
    pub members: usize,
    /// `loop` or `batched`.
    pub form: String,
    pub wall_us_per_run_step: f64,
    pub cpu_us_per_run_step: f64,
}

/// The Python of the venv that scripts/setup.sh installs torch into
/// (the venv of `scripts/setup.sh`'s TORCH_VERSION in $CREDIT_CACHE, else $XDG_CACHE_HOME/credit-assign or ~/.cache/credit-assign), if present.
/// The PyTorch release scripts/setup.sh installs (and this build links).
pub const TORCH_VERSION: &str = "2.11.0";

pub fn torch_python() -> Option<PathBuf> {
    let cache = std::env::var_os("CREDIT_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|x| PathBuf::from(x).join("credit-assign"))
        })
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/credit-assign"))
        })?;
    let python = cache.join(format!("torch-{TORCH_VERSION}/bin/python"));
    python.is_file().then_some(python)
}

/// Time fig2's step in PyTorch, as a per-member Python loop and as one batched program, for
/// each (rule, M, threads): the forms a researcher would write, as a peer's speed for ours.
pub fn time_torch(
    python: &Path,
    configs: &[(&str, usize, i32)],
    steps: u64,
) -> Result<Vec<TorchRow>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_torch.py");
    let args = configs.iter().map(|(r, m, t)| format!("{r}:{m}:{t}"));
    let out = Command::new(python)
        .arg("-W")
        .arg("ignore")
        .arg(&script)
        .arg("--steps")
        .arg(steps.to_string())
        .args(args)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 6).then(|| -> Result<TorchRow> {
                Ok(TorchRow {
                    rule: f[0].to_string(),
                    members: f[1].parse()?,
                    form: f[3].to_string(),
                    wall_us_per_run_step: f[4].parse()?,
                    cpu_us_per_run_step: f[5].parse()?,
                })
            })
        })
        .collect()
}
