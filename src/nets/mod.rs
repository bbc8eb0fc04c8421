pub mod activation;
pub mod init;
pub mod loss;
pub mod mlp;
