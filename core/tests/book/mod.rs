//! What the manual's generated tables are made from (shared by the examples).
pub mod tables;
