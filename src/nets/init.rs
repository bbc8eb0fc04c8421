//! Initial distributions of W^i and of the feedback matrices, over the whole augmented matrix
//! (bias row included). fan_in = n_{i-1}, fan_out = n_i for W^i and B^i.
use crate::rng::{draw_members, Dist, Stream};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// N(0, 2/fan_in) (He et al. 2015): this suite's default.
    #[default]
    HeNormal,
    /// N(0, 1/(fan_in + fan_out)): Akrout et al. 2019's code, for W, b and B.
    NormalFanSum,
    /// U(±√(6/(fan_in + fan_out))) (Glorot & Bengio 2010): biotorch's.
    XavierUniform,
}

impl Init {
    pub fn is_default(&self) -> bool {
        *self == Init::HeNormal
    }

    pub fn name(self) -> &'static str {
        match self {
            Init::HeNormal => "he_normal",
            Init::NormalFanSum => "normal_fan_sum",
            Init::XavierUniform => "xavier_uniform",
        }
    }

    /// A member-stacked draw `[M, rows, cols]`, member m from (seeds[m], stream, layer) alone.
    /// fans: (fan_in, fan_out).
    pub fn draw(
        self,
        seeds: &[u64],
        stream: Stream,
        layer: u64,
        shape: [i64; 2],
        fans: (i64, i64),
        device: Device,
    ) -> Tensor {
        let (fan_in, fan_out) = (fans.0 as f64, fans.1 as f64);
        match self {
            Init::HeNormal => {
                draw_members(seeds, stream, layer, &shape, Dist::Normal, device)
                    * (2.0 / fan_in).sqrt()
            }
            Init::NormalFanSum => {
                draw_members(seeds, stream, layer, &shape, Dist::Normal, device)
                    * (1.0 / (fan_in + fan_out)).sqrt()
            }
            Init::XavierUniform => {
                let a = (6.0 / (fan_in + fan_out)).sqrt();
                (draw_members(seeds, stream, layer, &shape, Dist::Uniform, device) * 2.0 - 1.0) * a
            }
        }
    }
}
