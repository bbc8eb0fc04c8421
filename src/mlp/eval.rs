//! Test-set evaluation of every member at once: test loss, test error and, where asked,
//! the authors' noisy-output score.
use super::config::Task;
use super::tasks::TaskData;
use crate::nets::mlp::Mlp;
use crate::rng::{randn_members, Stream};
use anyhow::{Context, Result};
use tch::{Kind, Tensor};

/// Test examples per forward chunk (bounds memory at [M, chunk, width]).
const EVAL_CHUNK: i64 = 2048;

/// One evaluation: a value per member for each metric, in the order it is logged.
pub type Evaluated = Vec<(&'static str, Vec<f64>)>;

/// NP's noise for `test_error_noisy`: the members' seeds, σ [M, 1, 1], perturb_bias.
pub struct NoisyScore<'a> {
    pub seeds: &'a [u64],
    pub sigma: &'a Tensor,
    pub perturb_bias: bool,
}

/// `test_loss` (in the unit of the training loss: the loss of a batch of T, i.e. T × the mean
/// per-example loss, or the mean itself with `loss_reduction: mean`) and, for
/// classification, `test_error` on the clean output.
///
/// With `noisy`, also `test_error_noisy`: the error of the output with node perturbation's
/// noise on every hidden layer, as the authors' code scored Fig. 2 (drawn from its own
/// stream, a function of the step). Not the default; `test_error` is always the clean one.
pub fn evaluate(
    net: &Mlp,
    data: &TaskData,
    task: Task,
    t: i64,
    step: u64,
    noisy: Option<&NoisyScore>,
) -> Result<Evaluated> {
    let set = Set {
        x: &data.test_x,
        y: data.test_y.as_ref(),
        labels: data.test_labels.as_ref(),
        names: ["test_loss", "test_error", "test_error_noisy"],
    };
    score(net, &set, task, t, step, noisy)
}

/// `val_loss` and, for classification, `val_error` on the validation set (clean output
/// only), in the units of the test metrics; nothing without one.
pub fn evaluate_val(net: &Mlp, data: &TaskData, task: Task, t: i64) -> Result<Evaluated> {
    let Some(val) = &data.val else {
        return Ok(Vec::new());
    };
    let set = Set {
        x: &val.x,
        y: val.y.as_ref(),
        labels: Some(&val.labels),
        names: ["val_loss", "val_error", "val_error_noisy"],
    };
    score(net, &set, task, t, 0, None)
}

/// Examples to score and the names of their metrics (loss, error, noisy error).
struct Set<'a> {
    x: &'a Tensor,
    y: Option<&'a Tensor>,
    labels: Option<&'a Tensor>,
    names: [&'static str; 3],
}

fn score(
    net: &Mlp,
    set: &Set,
    task: Task,
    t: i64,
    step: u64,
    noisy: Option<&NoisyScore>,
) -> Result<Evaluated> {
    let m = net.members();
    let device = set.x.device();
    let n_test = set.x.size()[0];
    let zeros = || Tensor::zeros([m], (Kind::Double, device));
    let (mut loss, mut wrong, mut wrong_noisy) = (zeros(), zeros(), zeros());
    let mut start = 0;
    while start < n_test {
        let len = EVAL_CHUNK.min(n_test - start);
        let x = set.x.narrow(0, start, len);
        let xm = x.unsqueeze(0).expand([m, len, x.size()[1]], false);
        let trace = net.forward(&xm, None);
        let y = match set.y {
            Some(y) => y
                .narrow(0, start, len)
                .unsqueeze(0)
                .expand([m, len, y.size()[1]], false),
            None => xm.shallow_clone(),
        };
        loss += net
            .loss
            .per_sample(trace.a_out(), trace.y_hat(), &y)
            .to_kind(Kind::Double)
            .sum_dim_intlist(1, false, None);
        if task == Task::Classify {
            let labels = set
                .labels
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
            if let Some(noisy) = noisy {
                let index = step * 1_000 + (start / EVAL_CHUNK) as u64;
                let xi = eval_noise(net, noisy, index, len);
                wrong_noisy += count_wrong(&net.forward_noisy(&trace, &xi));
            }
        }
        start += len;
    }
    let [loss_name, error_name, noisy_name] = set.names;
    let mut out = vec![(
        loss_name,
        Vec::<f64>::try_from(loss * (net.reduction.scale(t) * t as f64 / n_test as f64))?,
    )];
    if task == Task::Classify {
        out.push((error_name, Vec::<f64>::try_from(wrong / n_test as f64)?));
        if noisy.is_some() {
            out.push((
                noisy_name,
                Vec::<f64>::try_from(wrong_noisy / n_test as f64)?,
            ));
        }
    }
    Ok(out)
}

/// Ξ^i for every hidden layer of one test chunk: [M, len, n_i+1].
fn eval_noise(net: &Mlp, noisy: &NoisyScore, index: u64, len: i64) -> Vec<Option<Tensor>> {
    let device = noisy.sigma.device();
    (1..net.depth())
        .map(|i| {
            let cols = net.sizes[i] + noisy.perturb_bias as i64;
            let z = randn_members(
                noisy.seeds,
                Stream::EvalNoise,
                index * 16 + i as u64,
                &[len, cols],
                device,
            );
            let xi = z * noisy.sigma;
            Some(if noisy.perturb_bias {
                xi
            } else {
                xi.pad([0, 1], "constant", 0.0)
            })
        })
        .collect()
}
