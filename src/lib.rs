pub mod device;
pub mod output;
pub mod report;
