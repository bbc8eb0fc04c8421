pub mod device;
pub mod output;
