//! The training loop for one group of member-batched MLP runs: schedule, warm-up, node
//! perturbation, feedback fitting, W updates, evaluation, logging and divergence.
use crate::autoencoder;
use crate::config::{Experiment, Group, SolverKind, Task};
use crate::feedback::{ridge::Ridge, Solver};
use crate::metrics;
use crate::nets::mlp::{mse_per_sample, Mlp, Trace};
use crate::optim::Optimizer;
use crate::output::{MetricsWriter, RunSummary, Status};
use crate::progress::Progress;
use crate::rng::{derive, randn_members, NoiseStream, SplitMix64, Stream};
use crate::rules::{dfa, fa, matched, np, Feedback, Form, Rule, Signals};
use crate::tasks::TaskData;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Test examples per forward chunk when evaluating (bounds memory at [M, chunk, width]).
const EVAL_CHUNK: i64 = 2048;

/// Each member's own data order: a fresh permutation of the training set every epoch.
struct DataOrder {
    seeds: Vec<u64>,
    n: i64,
    batch: i64,
    device: Device,
    epoch: Option<(u64, Tensor)>, // (epoch, [M, N])
}

impl DataOrder {
    fn steps_per_epoch(&self) -> u64 {
        (self.n / self.batch) as u64
    }

    /// Indices of step `step`'s batch: [M, T].
    fn batch(&mut self, step: u64) -> Tensor {
        let epoch = step / self.steps_per_epoch();
        if self.epoch.as_ref().map(|(e, _)| *e) != Some(epoch) {
            let mut all = Vec::with_capacity(self.seeds.len() * self.n as usize);
            for &s in &self.seeds {
                all.extend(
                    SplitMix64::new(derive(s, Stream::DataOrder, epoch))
                        .permutation(self.n as usize),
                );
            }
            let perm = Tensor::from_slice(&all)
                .view([self.seeds.len() as i64, self.n])
                .to_device(self.device);
            self.epoch = Some((epoch, perm));
        }
        let (_, perm) = self.epoch.as_ref().expect("filled above");
        let pos = (step % self.steps_per_epoch()) as i64 * self.batch;
        perm.narrow(1, pos, self.batch)
    }
}

/// Hidden-layer noise Ξ^i = σ · (unit normals), one draw per sample per step, laid out as
/// [M, Σ_i T·c_i] and cut per layer into [M, T, n_i+1] (the bias column is zero when the
/// bias unit is not perturbed).
struct HiddenNoise {
    stream: NoiseStream,
    cols: Vec<i64>,
    batch: i64,
    perturb_bias: bool,
}

impl HiddenNoise {
    fn new(
        seeds: &[u64],
        stream: Stream,
        sizes: &[i64],
        batch: i64,
        perturb_bias: bool,
        device: Device,
    ) -> Self {
        let cols: Vec<i64> = sizes[1..sizes.len() - 1]
            .iter()
            .map(|n| n + perturb_bias as i64)
            .collect();
        let per_step = cols.iter().sum::<i64>() * batch;
        Self {
            stream: NoiseStream::new(seeds, stream, per_step, device),
            cols,
            batch,
            perturb_bias,
        }
    }

    /// xi[i-1] = Ξ^i: [M, T, n_i+1], for hidden layers i = 1..N. std: [M, 1, 1].
    fn at(&mut self, step: u64, std: &Tensor) -> Vec<Option<Tensor>> {
        let z = self.stream.at(step);
        let m = z.size()[0];
        let mut offset = 0;
        self.cols
            .iter()
            .map(|&c| {
                let len = self.batch * c;
                let mut xi = z.narrow(1, offset, len).view([m, self.batch, c]) * std;
                offset += len;
                if !self.perturb_bias {
                    xi = xi.pad([0, 1], "constant", 0.0);
                }
                Some(xi)
            })
            .collect()
    }
}

/// One value per member, as a [M, 1, 1] tensor for broadcasting.
fn per_member(values: impl Iterator<Item = f64>, device: Device) -> Tensor {
    let v: Vec<f32> = values.map(|x| x as f32).collect();
    Tensor::from_slice(&v).view([-1, 1, 1]).to_device(device)
}

struct RunLog {
    writer: Option<MetricsWriter>,
    diverged_at: Option<u64>,
    results: BTreeMap<String, f64>,
}

impl RunLog {
    fn alive(&self) -> bool {
        self.diverged_at.is_none()
    }

    fn record(&mut self, it: u64, metric: &str, layer: Option<usize>, v: f64) -> Result<()> {
        if let Some(w) = self.writer.as_mut() {
            w.row(it, metric, layer, v)?;
        }
        let key = match layer {
            Some(l) => format!("final_{metric}_l{l}"),
            None => format!("final_{metric}"),
        };
        self.results.insert(key, v);
        if metric.starts_with("test_") {
            let best = self.results.entry(format!("min_{metric}")).or_insert(v);
            if v < *best {
                *best = v;
            }
        }
        Ok(())
    }
}

pub struct GroupResult {
    pub summaries: Vec<RunSummary>,
    /// Wall time of steps 1 .. iterations−1 (set-up, step 0 and the final logs excluded),
    /// for `credit bench`.
    pub step_seconds: f64,
}

/// Train every member of `group` and write its results under `exp_dir/<run>/`.
pub fn train_group(
    exp: &Experiment,
    group: &Group,
    data: &TaskData,
    device: Device,
    exp_dir: &Path,
) -> Result<GroupResult> {
    let started = Instant::now();
    let spec = &group.spec;
    let rule = spec.rule;
    let tr = &exp.training;
    let t = tr.batch_size;
    let seeds: Vec<u64> = group.members.iter().map(|m| m.seed).collect();
    let sizes = &group.sizes;
    let n_layers = sizes.len() - 1;

    let flops = crate::bench::step_flops(sizes, t, rule.name()) * seeds.len() as f64;
    crate::device::threads_for(device, flops);
    let mut net = Mlp::new(sizes, &exp.network.activations, &seeds, device);
    let fit_bias_row = spec.perturb_bias;
    let b = match rule.form() {
        Form::Backprop => Vec::new(),
        Form::Feedback => fa::init_b(sizes, &seeds, device),
        Form::Direct => dfa::init_d(sizes, &seeds, device),
    };
    let solver = spec.solver.map(|kind| match kind {
        SolverKind::Ridge => {
            let m = seeds.len() as i64;
            let acc = (1..n_layers)
                .map(|i| match rule.form() {
                    Form::Direct => Ridge::new(m, sizes[i], sizes[n_layers], spec.gamma, device),
                    _ => Ridge::new(
                        m,
                        sizes[i] + fit_bias_row as i64,
                        sizes[i + 1],
                        spec.gamma,
                        device,
                    ),
                })
                .collect();
            Solver::Ridge(acc)
        }
        SolverKind::Sgd => Solver::Sgd {
            beta: per_member(group.members.iter().map(|m| m.lr_b), device),
        },
    });
    let mut fb = Feedback::new(rule, b, fit_bias_row, solver);
    let lr = per_member(group.members.iter().map(|m| m.lr), device);
    let sigma = per_member(group.members.iter().map(|m| m.sigma), device);
    let mut opt = Optimizer::new(spec.optimizer, lr, &net.w, spec.adam_eps);

    let mut order = DataOrder {
        seeds: seeds.clone(),
        n: data.train_len(),
        batch: t,
        device,
        epoch: None,
    };
    anyhow::ensure!(
        order.n >= t,
        "training.batch_size {t} is larger than the training set ({} examples)",
        order.n
    );
    let mut np_noise = rule
        .perturbs()
        .then(|| HiddenNoise::new(&seeds, Stream::Noise, sizes, t, spec.perturb_bias, device));
    let mut train_noise = spec.train_noise.map(|std| {
        (
            HiddenNoise::new(
                &seeds,
                Stream::TrainNoise,
                sizes,
                t,
                spec.perturb_bias,
                device,
            ),
            Tensor::from(std as f32).to_device(device),
        )
    });
    let mut input_noise = spec.input_noise.map(|std| {
        (
            NoiseStream::new(&seeds, Stream::InputNoise, t * sizes[0], device),
            std,
        )
    });

    let mut logs = Vec::with_capacity(group.members.len());
    for m in &group.members {
        let run_dir = exp_dir.join(&m.run);
        write_run_config(exp, group, m, &run_dir)?;
        logs.push(RunLog {
            writer: Some(MetricsWriter::create(&run_dir.join("metrics.csv"))?),
            diverged_at: None,
            results: BTreeMap::new(),
        });
    }

    let run_dirs: Vec<_> = group.members.iter().map(|m| exp_dir.join(&m.run)).collect();
    let mut ae_out = autoencoder::Outputs::new(exp, sizes, data, &run_dirs)?;

    let label = format!(
        "{} {} (M={})",
        exp.experiment,
        group.members[0].condition.split(' ').next().unwrap_or(""),
        seeds.len()
    );
    let mut progress = Progress::new(&label, tr.iterations);
    let mut loss_sum = Tensor::zeros([seeds.len() as i64], (Kind::Float, device));
    let mut loss_steps = 0u64;
    let members = seeds.len() as i64;
    let n0 = sizes[0];

    let _guard = tch::no_grad_guard();
    let mut step_timer: Option<Instant> = None;
    let mut step_seconds = 0.0;
    for step in 0..=tr.iterations {
        if step == 1 {
            crate::device::synchronize(device);
            step_timer = Some(Instant::now());
        }
        if step == tr.iterations {
            crate::device::synchronize(device);
            step_seconds = step_timer.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
        }
        let log_now = step % tr.log_every == 0 || step == tr.iterations;
        let eval_now = step % tr.eval_every == 0 || step == tr.iterations;
        if log_now && loss_steps > 0 {
            let mean = Vec::<f64>::try_from((&loss_sum / loss_steps as f64).to_kind(Kind::Double))?;
            for (log, &v) in logs.iter_mut().zip(&mean) {
                if log.alive() {
                    log.record(step, "train_loss", None, v)?;
                    if !v.is_finite() {
                        log.diverged_at = Some(step);
                    }
                }
            }
            let _ = loss_sum.zero_();
            loss_steps = 0;
        }
        if eval_now {
            let noisy = (tr.test_error_noisy && rule.perturbs()).then_some((
                seeds.as_slice(),
                &sigma,
                spec.perturb_bias,
            ));
            evaluate(&net, data, exp.task, t, step, noisy, &mut logs)?;
        }
        if let Some(ae) = ae_out.as_mut() {
            ae.step(&net, data, step, &alive(&logs))?;
        }
        if logs.iter().all(|l| !l.alive()) {
            break;
        }

        let idx = order.batch(step); // [M, T]
        let x = data
            .train_x
            .index_select(0, &idx.reshape([-1]))
            .view([members, t, n0]);
        let y = data.train_targets(&idx, &x);
        if step == tr.iterations {
            // The final alignment metrics, on one more batch, with no update.
            if log_now && rule.form() != Form::Backprop {
                let trace = net.forward(&x, None);
                let e_out = net.output_error(&trace, &y);
                let e_tilde = fb.errors(&net, &trace, &e_out);
                log_alignment(&net, &trace, &e_out, &fb, &e_tilde, step, &mut logs)?;
            }
            break;
        }
        let x_in = match input_noise.as_mut() {
            Some((noise, std)) => &x + noise.at(step).view([members, t, n0]) * *std,
            None => x.shallow_clone(),
        };
        let xi_train = train_noise.as_mut().map(|(noise, std)| noise.at(step, std));
        let trace = net.forward(&x_in, xi_train.as_deref());
        let loss_t = mse_per_sample(trace.y_hat(), &y); // [M, T]
        loss_sum += loss_t.sum_dim_intlist(1, false, None);
        loss_steps += 1;
        let e_out = net.output_error(&trace, &y);

        let lambda_hat: Option<Vec<Tensor>> = np_noise.as_mut().map(|noise| {
            let xi = noise.at(step, &sigma);
            let y_noisy = net.forward_noisy(&trace, &xi);
            let delta_l = mse_per_sample(&y_noisy, &y) - &loss_t; // [M, T]
            xi.iter()
                .map(|x| {
                    np::lambda_hat(
                        x.as_ref().expect("all hidden layers perturbed"),
                        &delta_l,
                        &sigma,
                    )
                })
                .collect()
        });
        let e_tilde = fb.errors(&net, &trace, &e_out);
        if log_now && rule.form() != Form::Backprop {
            log_alignment(&net, &trace, &e_out, &fb, &e_tilde, step, &mut logs)?;
        }

        fb.fit(&Signals {
            net: &net,
            trace: &trace,
            e_out: &e_out,
            e_tilde: &e_tilde,
            lambda_hat: lambda_hat.as_deref(),
        });
        if !spec.freeze_w && step >= spec.warmup {
            let grads = net.weight_grads(&trace, &e_tilde);
            let delta = opt.delta(&grads);
            for (w, d) in net.w.iter_mut().zip(&delta) {
                *w += d;
            }
            if rule == Rule::Matched {
                matched::follow(&mut fb.b, &delta);
            }
        }
        progress.set(step + 1);
    }
    progress.finish();
    if let Some(ae) = ae_out {
        ae.finish(&net, data, &alive(&logs))?;
    }

    let seconds = started.elapsed().as_secs_f64();
    let mut summaries = Vec::new();
    for (m, log) in group.members.iter().zip(logs) {
        let run_dir = exp_dir.join(&m.run);
        if let Some(w) = log.writer {
            w.finish()?;
        }
        let summary = RunSummary {
            experiment: exp.experiment.clone(),
            run: m.run.clone(),
            rule: rule.name().to_string(),
            condition: m.condition.clone(),
            seed: m.seed,
            status: if log.diverged_at.is_some() {
                Status::Diverged
            } else {
                Status::Completed
            },
            diverged_at: log.diverged_at,
            iterations: tr.iterations,
            seconds,
            device: format!("{device:?}"),
            params: m.params.clone(),
            results: log.results,
        };
        summary.write_json(&run_dir)?;
        summaries.push(summary);
    }
    Ok(GroupResult {
        summaries,
        step_seconds,
    })
}

/// Which members have not diverged.
fn alive(logs: &[RunLog]) -> Vec<bool> {
    logs.iter().map(RunLog::alive).collect()
}

fn log_alignment(
    net: &Mlp,
    trace: &Trace,
    e_out: &Tensor,
    fb: &Feedback,
    e_tilde: &[Tensor],
    step: u64,
    logs: &mut [RunLog],
) -> Result<()> {
    for m in metrics::alignment(net, trace, e_out, fb, e_tilde) {
        let values = Vec::<f64>::try_from(m.values.to_kind(Kind::Double))?;
        for (log, &v) in logs.iter_mut().zip(&values) {
            if log.alive() {
                log.record(step, m.metric, Some(m.layer), v)?;
            }
        }
    }
    Ok(())
}

/// Test loss (in the unit of the training loss: ½ Σ over a batch of T, i.e. T × the mean
/// per-example loss) and, for classification, test error, on the clean output.
///
/// With `noisy` (seeds, σ [M, 1, 1], perturb_bias), also `test_error_noisy`: the error of the
/// output with node perturbation's noise on every hidden layer, as the authors' code scored
/// Fig. 2. Not the default; `test_error` is always the clean output's.
fn evaluate(
    net: &Mlp,
    data: &TaskData,
    task: Task,
    t: i64,
    step: u64,
    noisy: Option<(&[u64], &Tensor, bool)>,
    logs: &mut [RunLog],
) -> Result<()> {
    let m = net.members();
    let mut wrong_noisy = Tensor::zeros([m], (Kind::Double, data.test_x.device()));
    let n_test = data.test_x.size()[0];
    let device = data.test_x.device();
    let mut loss = Tensor::zeros([m], (Kind::Double, device));
    let mut wrong = Tensor::zeros([m], (Kind::Double, device));
    let mut start = 0;
    while start < n_test {
        let len = EVAL_CHUNK.min(n_test - start);
        let x = data.test_x.narrow(0, start, len);
        let xm = x.unsqueeze(0).expand([m, len, x.size()[1]], false);
        let trace = net.forward(&xm, None);
        let y = match &data.test_y {
            Some(y) => y
                .narrow(0, start, len)
                .unsqueeze(0)
                .expand([m, len, y.size()[1]], false),
            None => xm.shallow_clone(),
        };
        loss += mse_per_sample(trace.y_hat(), &y)
            .to_kind(Kind::Double)
            .sum_dim_intlist(1, false, None);
        if task == Task::Classify {
            let labels = data
                .test_labels
                .as_ref()
                .context("classification needs test labels")?
                .narrow(0, start, len);
            let count_wrong = |y_hat: &Tensor| {
                y_hat
                    .argmax(-1, false) // [M, len]
                    .ne_tensor(&labels.unsqueeze(0))
                    .to_kind(Kind::Double)
                    .sum_dim_intlist(1, false, None)
            };
            wrong += count_wrong(trace.y_hat());
            if let Some((seeds, sigma, perturb_bias)) = noisy {
                let index = step * 1_000 + (start / EVAL_CHUNK) as u64;
                let xi: Vec<Option<Tensor>> = (1..net.depth())
                    .map(|i| {
                        let cols = net.sizes[i] + perturb_bias as i64;
                        let z = randn_members(
                            seeds,
                            Stream::EvalNoise,
                            index * 16 + i as u64,
                            &[len, cols],
                            device,
                        );
                        let xi = z * sigma;
                        Some(if perturb_bias {
                            xi
                        } else {
                            xi.pad([0, 1], "constant", 0.0)
                        })
                    })
                    .collect();
                wrong_noisy += count_wrong(&net.forward_noisy(&trace, &xi));
            }
        }
        start += len;
    }
    let loss = Vec::<f64>::try_from(loss * (t as f64 / n_test as f64))?;
    let err = Vec::<f64>::try_from(wrong / n_test as f64)?;
    let err_noisy = Vec::<f64>::try_from(wrong_noisy / n_test as f64)?;
    for (k, log) in logs.iter_mut().enumerate() {
        if !log.alive() {
            continue;
        }
        log.record(step, "test_loss", None, loss[k])?;
        if task == Task::Classify {
            log.record(step, "test_error", None, err[k])?;
            if noisy.is_some() {
                log.record(step, "test_error_noisy", None, err_noisy[k])?;
            }
        }
        if !loss[k].is_finite() {
            log.diverged_at = Some(step);
        }
    }
    Ok(())
}

/// The fully resolved config of one run: the experiment with only this run's settings.
fn write_run_config(
    exp: &Experiment,
    group: &Group,
    m: &crate::config::Member,
    run_dir: &Path,
) -> Result<()> {
    let mut spec = group.spec.clone();
    if spec.lr.is_some() {
        spec.lr = Some(crate::config::Sweep::One(m.lr));
    }
    if spec.sigma.is_some() {
        spec.sigma = Some(crate::config::Sweep::One(m.sigma));
    }
    if spec.lr_b.is_some() {
        spec.lr_b = Some(crate::config::Sweep::One(m.lr_b));
    }
    spec.sizes = None;
    spec.seeds = None;
    let mut one = exp.clone();
    one.network.sizes = group.sizes.clone();
    one.training.seeds = vec![m.seed];
    one.runs = vec![spec];
    let text = serde_yaml::to_string(&one)?;
    crate::output::write_atomic(&run_dir.join("config.yaml"), text.as_bytes())
}
