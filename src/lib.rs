pub mod cnn;
pub mod data;
pub mod device;
pub mod output;
