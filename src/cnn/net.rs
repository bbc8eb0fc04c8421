//! The CNN of Table 1: hidden blocks (conv or fully connected) and a linear output layer.
//!
//! A conv block is `h = dropout(act(maxpool(conv(x))))`, a fully connected block is
//! `h = dropout(act(x w^T + b))`. Convolutions use TF "SAME" padding (kernel/2, odd kernels)
//! and max-pooling is kernel 3, stride 2, padding 1, so 32 → 16 → 8 → 4. Pooling before the
//! activation gives the same values and gradients as after it (tanh and relu are monotone)
//! at a quarter of the activation cost.
//!
//! The block output `h` (after pooling, activation and dropout: what the next block sees) is
//! the block's **feedback point**: direct feedback `D^l` maps the output error there, and
//! node perturbation adds its noise there.
//!
//! Init (`network.init`, docs/CNN.md): every weight `w ~ U(−a, a)`, with
//! - `kernel_fan_in` (default): a = 1/sqrt(C_in·k·k) for conv, 1/sqrt(in_features) for fc;
//! - `input_fan_in` (the authors' CIFAR-10 code): a = 1/sqrt(H_in·W_in·C_in) for conv, the
//!   layer's whole input, and 1/sqrt(in_features) for fc;
//! - `glorot_uniform` (their CIFAR-100 code): a = sqrt(6/(fan_in + fan_out)), with
//!   fan_in = C_in·k·k and fan_out = C_out·k·k for conv (Keras), in/out features for fc;
//!
//! and every bias (output layer too) = `bias_init`. `network.feedback_init` sets the direct
//! feedback D^l of a block with D_l output units: `sqrt_classes` (default) U(±1/sqrt(C)),
//! `sqrt_units` (code) U(±1/sqrt(D_l)). `network.pool_padding`: `symmetric` (default) pads
//! 1 on every side of the 3×3/2 max-pool; `tf_same` pads as TF "SAME" does, the total
//! `max((out−1)·2 + 3 − in, 0)` split with the smaller half before (0 before, 1 after for
//! even sizes). Padding never wins the max (−inf).
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Tanh,
    Relu,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvSpec {
    pub channels: i64,
    /// Odd kernel size (SAME padding keeps the spatial size).
    pub kernel: i64,
    #[serde(default = "yes")]
    pub pool: bool,
    #[serde(default)]
    pub dropout: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcSpec {
    pub units: i64,
    #[serde(default)]
    pub dropout: f64,
}

fn yes() -> bool {
    true
}

/// How the weights are drawn (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightInit {
    /// U(±1/sqrt(C_in·k·k)) conv, U(±1/sqrt(fan_in)) fc.
    #[default]
    KernelFanIn,
    /// U(±1/sqrt(H_in·W_in·C_in)) conv, U(±1/sqrt(fan_in)) fc (the authors' CIFAR-10 code).
    InputFanIn,
    /// U(±sqrt(6/(fan_in+fan_out))), Keras's fans (the authors' CIFAR-100 code).
    GlorotUniform,
}

/// How the direct feedback matrices D^l (`[D_l, classes]`) are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackInit {
    /// U(±1/sqrt(classes)).
    #[default]
    SqrtClasses,
    /// U(±1/sqrt(D_l)), D_l the block's output units (the authors' code).
    SqrtUnits,
}

/// Padding of the 3×3, stride-2 max-pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolPadding {
    /// 1 on every side (libtorch's `padding = 1`).
    #[default]
    Symmetric,
    /// TF "SAME": total `max((out−1)·2 + 3 − in, 0)`, the smaller half before.
    TfSame,
}

/// Pool kernel and stride.
pub const POOL_KERNEL: i64 = 3;
pub const POOL_STRIDE: i64 = 2;

/// 3×3/2 max-pool of `z` (`[T, C, H, W]`) with `padding`. Padded cells are −inf, so they
/// never win the max; both schemes give `ceil(H/2)` × `ceil(W/2)`.
pub fn max_pool(z: &Tensor, padding: PoolPadding) -> Tensor {
    let k = POOL_KERNEL;
    let s = POOL_STRIDE;
    match padding {
        PoolPadding::Symmetric => z.max_pool2d([k, k], [s, s], [1, 1], [1, 1], false),
        PoolPadding::TfSame => {
            let size = z.size();
            let (before_h, after_h) = tf_same_pads(size[2], k, s);
            let (before_w, after_w) = tf_same_pads(size[3], k, s);
            let padded = z.pad(
                [before_w, after_w, before_h, after_h],
                "constant",
                f64::NEG_INFINITY,
            );
            padded.max_pool2d([k, k], [s, s], [0, 0], [1, 1], false)
        }
    }
}

/// `t` (`[N, C, H, W]`) laid out channels-last: the same values and shape, with C the
/// fastest axis in memory (a no-op when it already is). oneDNN's convolutions then skip their
/// reorders and the output is channels-last too, so max-pool runs its channels-last kernel,
/// which is 10× faster on CPU than the one for the contiguous layout (docs/PERFORMANCE.md).
pub fn channels_last(t: &Tensor) -> Tensor {
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// TF "SAME" padding (before, after) of one spatial axis of length `n`.
pub fn tf_same_pads(n: i64, kernel: i64, stride: i64) -> (i64, i64) {
    let out = (n + stride - 1) / stride;
    let total = ((out - 1) * stride + kernel - n).max(0);
    (total / 2, total - total / 2)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockSpec {
    Conv(ConvSpec),
    Fc(FcSpec),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub activation: Activation,
    #[serde(default = "bias_init")]
    pub bias_init: f64,
    /// Weight init scheme (default `kernel_fan_in`).
    #[serde(default)]
    pub init: WeightInit,
    /// Direct feedback init (default `sqrt_classes`).
    #[serde(default)]
    pub feedback_init: FeedbackInit,
    /// Max-pool padding (default `symmetric`).
    #[serde(default)]
    pub pool_padding: PoolPadding,
    /// Hidden blocks, conv blocks first; the output layer is added after them. Written as
    /// `- conv: {channels: 96, kernel: 5}` or `- fc: {units: 2048, dropout: 0.5}`.
    #[serde(with = "serde_yaml::with::singleton_map_recursive")]
    pub blocks: Vec<BlockSpec>,
}

fn bias_init() -> f64 {
    0.1
}

impl NetworkSpec {
    /// The code's architecture (`table1-cifar10-official`): conv 5×5×96, 5×5×128, 5×5×256,
    /// each with TF "SAME" pooling, then fc 2048, fc 2048 with dropout 0.5; tanh, bias init
    /// 0.1, `input_fan_in` weights and `sqrt_units` feedback.
    pub fn official() -> NetworkSpec {
        let conv = |channels, kernel| {
            BlockSpec::Conv(ConvSpec {
                channels,
                kernel,
                pool: true,
                dropout: 0.0,
            })
        };
        let fc = |units| {
            BlockSpec::Fc(FcSpec {
                units,
                dropout: 0.5,
            })
        };
        NetworkSpec {
            activation: Activation::Tanh,
            bias_init: 0.1,
            init: WeightInit::InputFanIn,
            feedback_init: FeedbackInit::SqrtUnits,
            pool_padding: PoolPadding::TfSame,
            blocks: vec![conv(96, 5), conv(128, 5), conv(256, 5), fc(2048), fc(2048)],
        }
    }

    /// Check the block list; errors name the offending entry as `network.blocks[i]`.
    pub fn validate(&self) -> Result<()> {
        if self.blocks.is_empty() {
            bail!("network.blocks is empty: give at least one conv or fc block");
        }
        let mut seen_fc = false;
        for (i, b) in self.blocks.iter().enumerate() {
            let dropout = match b {
                BlockSpec::Conv(c) => {
                    if seen_fc {
                        bail!(
                            "network.blocks[{i}] is a conv block after an fc block: put all \
                             conv blocks first"
                        );
                    }
                    if c.channels <= 0 {
                        bail!("network.blocks[{i}].conv.channels must be positive");
                    }
                    if c.kernel <= 0 || c.kernel % 2 == 0 {
                        bail!(
                            "network.blocks[{i}].conv.kernel is {}: use a positive odd size \
                             (SAME padding)",
                            c.kernel
                        );
                    }
                    c.dropout
                }
                BlockSpec::Fc(f) => {
                    seen_fc = true;
                    if f.units <= 0 {
                        bail!("network.blocks[{i}].fc.units must be positive");
                    }
                    f.dropout
                }
            };
            if !(0.0..1.0).contains(&dropout) {
                bail!("network.blocks[{i}] dropout is {dropout}: use a rate in [0, 1)");
            }
        }
        if !self.bias_init.is_finite() {
            bail!("network.bias_init must be a finite number");
        }
        Ok(())
    }
}

/// One hidden block's parameters and shape.
#[derive(Debug)]
pub struct Block {
    pub w: Tensor, // conv [out, in, k, k]; fc [out, in]
    pub b: Tensor, // [out]
    /// The bound a of w's init U(−a, a).
    pub bound: f64,
    pub conv: bool,
    pub pool: bool,
    pub dropout: f64,
    /// Per-sample output shape, e.g. [96, 16, 16] or [2048].
    pub out_shape: Vec<i64>,
}

/// The network; its weights live in `vs` (for the optimiser).
pub struct Net {
    pub vs: nn::VarStore,
    pub blocks: Vec<Block>,
    pub out_w: Tensor, // [classes, D_last]
    pub out_b: Tensor, // [classes]
    /// The bound a of out_w's init U(−a, a).
    pub out_bound: f64,
    pub activation: Activation,
    pub classes: i64,
    pub pool_padding: PoolPadding,
}

/// Dropout masks of one pass, one per hidden block (`None`: no dropout there).
pub type Masks = Vec<Option<Tensor>>;

/// A pass whose blocks are cut apart: each block ran on the *detached* output of the one
/// below, so autograd from `h[l]` reaches block l's weights and stops there.
pub struct Local {
    /// Per hidden block l, its linear part before pooling: `[T, C, H, W]` or `[T, units]`.
    pub z: Vec<Tensor>,
    pub h: Vec<Tensor>, // per hidden block l: [T, out_shape_l]
    pub logits: Tensor, // [T, classes], graph reaching only the output layer
    pub masks: Masks,
}

impl Net {
    /// Build a network for inputs of per-sample shape `input` ([C, H, W]).
    pub fn new(spec: &NetworkSpec, input: [i64; 3], classes: i64, device: Device) -> Result<Net> {
        spec.validate()?;
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let mut shape = input.to_vec();
        let mut blocks = Vec::new();
        for (l, b) in spec.blocks.iter().enumerate() {
            let p = &root / format!("block{l}");
            let (w, bound, out_shape, conv, pool, dropout) = match b {
                BlockSpec::Conv(c) => {
                    if shape.len() != 3 {
                        bail!("network.blocks[{l}]: conv after fc");
                    }
                    let kk = c.kernel * c.kernel;
                    let bound = match spec.init {
                        WeightInit::KernelFanIn => fan_in_bound(shape[0] * kk),
                        WeightInit::InputFanIn => fan_in_bound(shape.iter().product()),
                        WeightInit::GlorotUniform => glorot_bound(shape[0] * kk, c.channels * kk),
                    };
                    let w = p.var(
                        "w",
                        &[c.channels, shape[0], c.kernel, c.kernel],
                        uniform(bound),
                    );
                    let (h, wd) = if c.pool {
                        ((shape[1] + 1) / 2, (shape[2] + 1) / 2)
                    } else {
                        (shape[1], shape[2])
                    };
                    (w, bound, vec![c.channels, h, wd], true, c.pool, c.dropout)
                }
                BlockSpec::Fc(f) => {
                    let fan_in: i64 = shape.iter().product();
                    let bound = fc_bound(spec.init, fan_in, f.units);
                    let w = p.var("w", &[f.units, fan_in], uniform(bound));
                    (w, bound, vec![f.units], false, false, f.dropout)
                }
            };
            let out = out_shape[0];
            let b = p.var("b", &[out], nn::Init::Const(spec.bias_init));
            shape.clone_from(&out_shape);
            blocks.push(Block {
                w,
                b,
                bound,
                conv,
                pool,
                dropout,
                out_shape,
            });
        }
        let fan_in: i64 = shape.iter().product();
        let out_bound = fc_bound(spec.init, fan_in, classes);
        let out_w = root.var("out_w", &[classes, fan_in], uniform(out_bound));
        let out_b = root.var("out_b", &[classes], nn::Init::Const(spec.bias_init));
        Ok(Net {
            vs,
            blocks,
            out_w,
            out_b,
            out_bound,
            activation: spec.activation,
            classes,
            pool_padding: spec.pool_padding,
        })
    }

    /// W^1..W^{L+1}: every hidden block's weight, then the output layer's.
    pub fn weights(&self) -> Vec<&Tensor> {
        let hidden = self.blocks.iter().map(|b| &b.w);
        hidden.chain([&self.out_w]).collect()
    }

    /// The bound a of each W^l's init U(−a, a), in the order of [`Net::weights`].
    pub fn init_bounds(&self) -> Vec<f64> {
        let hidden = self.blocks.iter().map(|b| b.bound);
        hidden.chain([self.out_bound]).collect()
    }

    /// Flattened size `D_l` of every hidden block's feedback point.
    pub fn feedback_sizes(&self) -> Vec<i64> {
        self.blocks
            .iter()
            .map(|b| b.out_shape.iter().product())
            .collect()
    }

    fn act(&self, a: &Tensor) -> Tensor {
        match self.activation {
            Activation::Tanh => a.tanh(),
            Activation::Relu => a.relu(),
        }
    }

    /// Block l's linear part `z = conv(x, w) + b` (`[T, C, H, W]`) or `x wᵀ + b` (`[T, units]`).
    pub fn linear(&self, l: usize, x: &Tensor) -> Tensor {
        let blk = &self.blocks[l];
        if blk.conv {
            let pad = blk.w.size()[2] / 2;
            let (x, w) = (channels_last(x), channels_last(&blk.w));
            x.conv2d(&w, Some(&blk.b), [1, 1], [pad, pad], [1, 1], 1)
        } else {
            x.flatten(1, -1).linear(&blk.w, Some(&blk.b))
        }
    }

    /// Block l after its linear part: `act(pool(z))` or `act(z)`, before dropout.
    fn pool_act(&self, l: usize, z: &Tensor) -> Tensor {
        if self.blocks[l].pool {
            self.act(&max_pool(z, self.pool_padding)) // [T, C, ceil(H/2), ceil(W/2)]
        } else {
            self.act(z)
        }
    }

    /// Block l's output `h^l` on input `x`, with dropout mask `mask` (drawn fresh when
    /// `train` and the block has dropout and no mask is given). Returns h and the mask used.
    pub fn block(
        &self,
        l: usize,
        x: &Tensor,
        train: bool,
        mask: Option<&Tensor>,
    ) -> (Tensor, Option<Tensor>) {
        self.block_after_linear(l, &self.linear(l, x), train, mask)
    }

    /// [`Net::block`] from block l's linear part `z` on: pooling, activation, dropout.
    fn block_after_linear(
        &self,
        l: usize,
        z: &Tensor,
        train: bool,
        mask: Option<&Tensor>,
    ) -> (Tensor, Option<Tensor>) {
        let h = self.pool_act(l, z);
        let p = self.blocks[l].dropout;
        if !train || p == 0.0 {
            return (h, None);
        }
        let keep = 1.0 - p;
        let mask = match mask {
            Some(m) => m.shallow_clone(),
            None => h.ones_like().bernoulli_p(keep) / keep, // [T, out_shape]
        };
        (&h * &mask, Some(mask))
    }

    /// Output logits `[T, classes]` from the last hidden output.
    pub fn output(&self, h: &Tensor) -> Tensor {
        h.flatten(1, -1).linear(&self.out_w, Some(&self.out_b))
    }

    /// Plain end-to-end forward (autograd flows through every block): backprop and eval.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for l in 0..self.blocks.len() {
            h = self.block(l, &h, train, None).0;
        }
        self.output(&h)
    }

    /// Forward with every block cut from the one below (see [`Local`]).
    pub fn forward_local(&self, x: &Tensor, train: bool) -> Local {
        let mut input = x.detach();
        let n = self.blocks.len();
        let (mut z, mut h, mut masks) = (Vec::with_capacity(n), Vec::with_capacity(n), vec![]);
        for l in 0..n {
            let z_l = self.linear(l, &input);
            let (out, mask) = self.block_after_linear(l, &z_l, train, None);
            input = out.detach();
            z.push(z_l);
            h.push(out);
            masks.push(mask);
        }
        let logits = self.output(&input);
        Local {
            z,
            h,
            logits,
            masks,
        }
    }

    /// The noisy pass of node perturbation, without autograd: noise `xi^l ~ N(0, sigma²)`
    /// is added at every block's feedback point and propagates upward. Dropout reuses
    /// `masks` when given, else draws fresh masks. Returns (noisy logits `[T, classes]`,
    /// `xi^l` per block `[T, out_shape_l]`).
    pub fn forward_noisy(
        &self,
        x: &Tensor,
        sigma: f64,
        train: bool,
        masks: Option<&Masks>,
    ) -> (Tensor, Vec<Tensor>) {
        tch::no_grad(|| {
            let mut h = x.shallow_clone();
            let mut xis = Vec::with_capacity(self.blocks.len());
            for l in 0..self.blocks.len() {
                let mask = masks.and_then(|m| m[l].as_ref());
                let (out, _) = self.block(l, &h, train, mask);
                let xi = out.randn_like() * sigma; // [T, out_shape_l]
                h = out + &xi;
                xis.push(xi);
            }
            (self.output(&h), xis)
        })
    }
}

/// 1/sqrt(fan_in).
pub fn fan_in_bound(fan_in: i64) -> f64 {
    1.0 / (fan_in as f64).sqrt()
}

/// sqrt(6/(fan_in + fan_out)).
pub fn glorot_bound(fan_in: i64, fan_out: i64) -> f64 {
    (6.0 / (fan_in + fan_out) as f64).sqrt()
}

fn fc_bound(init: WeightInit, fan_in: i64, fan_out: i64) -> f64 {
    match init {
        WeightInit::KernelFanIn | WeightInit::InputFanIn => fan_in_bound(fan_in),
        WeightInit::GlorotUniform => glorot_bound(fan_in, fan_out),
    }
}

fn uniform(a: f64) -> nn::Init {
    nn::Init::Uniform { lo: -a, up: a }
}
