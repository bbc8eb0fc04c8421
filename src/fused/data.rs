//! The training set in host memory, in the form the fused step reads: inputs as sparse rows
//! (MNIST is 81% zeros) or dense ones, and the targets. Built once per program.
use crate::mlp::tasks::TaskData;
use anyhow::{ensure, Result};
use tch::{Kind, Tensor};

/// Above this share of non-zero inputs the dense first layer is cheaper than the sparse one.
const SPARSE_BELOW: f64 = 0.5;

/// Each training input's non-zero entries (compressed sparse rows), or every entry.
pub enum Inputs {
    Sparse {
        /// Row r's entries are at row_start[r]..row_start[r+1].
        row_start: Vec<usize>,
        col: Vec<u32>,
        val: Vec<f32>,
    },
    /// [N × n_0], row-major.
    Dense(Vec<f32>),
}

pub struct HostData {
    pub inputs: Inputs,
    /// n_0
    pub n_in: usize,
    /// [N × n_{N+1}], row-major.
    pub targets: Vec<f32>,
    pub n_out: usize,
    pub len: usize,
    /// Share of non-zero input entries.
    pub density: f64,
}

impl HostData {
    pub fn new(data: &TaskData) -> Result<Self> {
        let y = data.train_y.as_ref().ok_or_else(|| {
            anyhow::anyhow!("the fused engine needs targets (not task: autoencode)")
        })?;
        let (len, n_in) = (
            data.train_x.size()[0] as usize,
            data.train_x.size()[1] as usize,
        );
        let n_out = y.size()[1] as usize;
        let x = host_f32(&data.train_x)?;
        let targets = host_f32(y)?;
        ensure!(
            targets.len() == len * n_out,
            "targets and inputs disagree in length"
        );
        let nonzero = x.iter().filter(|v| **v != 0.0).count();
        let density = nonzero as f64 / x.len().max(1) as f64;
        let inputs = if density < SPARSE_BELOW {
            sparse(&x, n_in)
        } else {
            Inputs::Dense(x)
        };
        Ok(Self {
            inputs,
            n_in,
            targets,
            n_out,
            len,
            density,
        })
    }

    /// Example r's target: n_{N+1} values.
    pub fn target(&self, r: usize) -> &[f32] {
        &self.targets[r * self.n_out..(r + 1) * self.n_out]
    }

    /// Example r's input, dense: n_0 values written into `out`.
    pub fn input_into(&self, r: usize, out: &mut [f32]) {
        match &self.inputs {
            Inputs::Dense(x) => out.copy_from_slice(&x[r * self.n_in..(r + 1) * self.n_in]),
            Inputs::Sparse {
                row_start,
                col,
                val,
            } => {
                out.fill(0.0);
                for e in row_start[r]..row_start[r + 1] {
                    out[col[e] as usize] = val[e];
                }
            }
        }
    }
}

fn host_f32(t: &Tensor) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(
        t.to_device(tch::Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .reshape([-1]),
    )?)
}

pub(super) fn sparse(x: &[f32], n_in: usize) -> Inputs {
    let mut row_start = vec![0];
    let (mut col, mut val) = (Vec::new(), Vec::new());
    for row in x.chunks(n_in) {
        for (k, &v) in row.iter().enumerate() {
            if v != 0.0 {
                col.push(k as u32);
                val.push(v);
            }
        }
        row_start.push(col.len());
    }
    Inputs::Sparse {
        row_start,
        col,
        val,
    }
}
