pub mod activation;
pub mod mlp;
