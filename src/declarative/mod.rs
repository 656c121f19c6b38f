//! The declarative catalog: a file describing the organisation's catalog (`file`), read
//! and checked (`load`), the live catalog read into the same shape (`live`), the
//! difference as an ordered plan (`diff`), and its execution (`apply`).

pub mod apply;
pub mod diff;
pub mod file;
pub mod live;
pub mod load;
