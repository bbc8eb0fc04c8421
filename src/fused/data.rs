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

    /// Ask the cache for example r's input ahead of its use. A batch's rows lie scattered over
    /// the training set (66 MB of sparse rows for MNIST's 55,000 images, beyond the caches),
    /// and without the hint the first layer waits on memory for each row in turn. A hint
    /// only: no value changes.
    pub fn prefetch(&self, r: usize) {
        match &self.inputs {
            Inputs::Sparse {
                row_start,
                col,
                val,
            } => {
                let entries = row_start[r]..row_start[r + 1];
                prefetch_lines(&col[entries.clone()]);
                prefetch_lines(&val[entries]);
            }
            Inputs::Dense(x) => prefetch_lines(&x[r * self.n_in..(r + 1) * self.n_in]),
        }
    }
}

/// Prefetch every cache line of `s` into L1 (x86-64; elsewhere nothing).
fn prefetch_lines<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(s);
        let p = s.as_ptr().cast::<i8>();
        let last = bytes.saturating_sub(1);
        for off in (0..bytes).step_by(64).chain((bytes > 0).then_some(last)) {
            // SAFETY: p + off lies inside `s`; a prefetch reads nothing and cannot fault.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Prefetching every row (the empty one, the last) reads within bounds and changes nothing.
    #[test]
    fn prefetch_touches_every_row_and_changes_nothing() {
        let x = [0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 1.0, 0.25, 0.0];
        for inputs in [sparse(&x, 3), Inputs::Dense(x.to_vec())] {
            let data = HostData {
                inputs,
                n_in: 3,
                targets: vec![0.0; 3],
                n_out: 1,
                len: 3,
                density: 1.0 / 3.0,
            };
            let mut row = [9.0; 3];
            for r in 0..3 {
                data.prefetch(r);
                data.input_into(r, &mut row);
                assert_eq!(row, x[3 * r..3 * r + 3]);
            }
        }
        prefetch_lines::<f32>(&[]);
    }
}
