//! Which of the paper's figures an experiment belongs to, or which of the comparisons beyond
//! it: the prefix of its name before the first `-` (`fig2-quick` → Figure 2, `peers-mnist` →
//! the peers' benchmarks).
use anyhow::{bail, Context, Result};
use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Fig2,
    Fig3,
    Fig4,
    Theory,
    Table1,
    /// The peers' benchmarks (`peers-mnist`, `peers-cifar10`): beyond the paper.
    Peers,
    /// Every rule on Fig. 2's network (`rules-fig2`): beyond the paper.
    Rules,
}

impl Figure {
    pub const ALL: [Figure; 7] = [
        Figure::Fig2,
        Figure::Fig3,
        Figure::Fig4,
        Figure::Theory,
        Figure::Table1,
        Figure::Peers,
        Figure::Rules,
    ];

    /// The id used in experiment names and configs: `fig2`, `theory`, `table1`...
    pub fn id(self) -> &'static str {
        match self {
            Figure::Fig2 => "fig2",
            Figure::Fig3 => "fig3",
            Figure::Fig4 => "fig4",
            Figure::Theory => "theory",
            Figure::Table1 => "table1",
            Figure::Peers => "peers",
            Figure::Rules => "rules",
        }
    }

    /// The paper's name for it, as the report's headings use it.
    pub fn title(self) -> &'static str {
        match self {
            Figure::Fig2 => "Figure 2: learning with learned feedback (MNIST 784-50-20-10)",
            Figure::Fig3 => "Figure 3: MNIST autoencoder 784-200-2-200-784",
            Figure::Fig4 => "Figure 4: convergence of B with W fixed",
            Figure::Theory => "Theory (§3): B and D against W in a deep linear network",
            Figure::Table1 => "Table 1: CNN on CIFAR-10 and CIFAR-100",
            Figure::Peers => "Beyond the paper: the peers' benchmarks (Akrout et al. 2019)",
            Figure::Rules => "Beyond the paper: every rule on Fig. 2's network",
        }
    }

    /// The figure of an experiment name such as `fig2-quick` or `table1-cifar10`.
    pub fn from_experiment(name: &str) -> Result<Figure> {
        let prefix = name.split('-').next().unwrap_or_default();
        match Figure::ALL.iter().find(|f| f.id() == prefix) {
            Some(f) => Ok(*f),
            None => bail!(
                "experiment `{name}` belongs to no known figure: its name must start with one of {} followed by `-` or nothing",
                Figure::ALL.map(Figure::id).join(", ")
            ),
        }
    }

    /// The figure of an experiment folder `results/<experiment>`.
    pub fn from_dir(exp_dir: &Path) -> Result<(Figure, String)> {
        let name = exp_dir
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| {
                format!(
                    "{} is not an experiment folder: give results/<experiment>",
                    exp_dir.display()
                )
            })?
            .to_string();
        Ok((Figure::from_experiment(&name)?, name))
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_before_first_dash_names_the_figure() {
        assert_eq!(Figure::from_experiment("fig2").unwrap(), Figure::Fig2);
        assert_eq!(
            Figure::from_experiment("fig2-official-quick").unwrap(),
            Figure::Fig2
        );
        assert_eq!(
            Figure::from_experiment("table1-cifar100").unwrap(),
            Figure::Table1
        );
        assert_eq!(
            Figure::from_experiment("peers-cifar10-bp-fa").unwrap(),
            Figure::Peers
        );
        assert_eq!(
            Figure::from_experiment("rules-fig2").unwrap(),
            Figure::Rules
        );
        assert!(Figure::from_experiment("fig22").is_err());
        assert!(Figure::from_experiment("").is_err());
    }
}
