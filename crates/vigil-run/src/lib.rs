//! `vigil run`: Vigil's functions wired together on one machine exactly as AWS
//! would run them, driven by a simulated fleet of wristbands.
//!
//! - [`fleet`]: the wristbands and their phones (deterministic per seed);
//! - [`gateway`]: API Gateway on 127.0.0.1 with the JWT authorizer's check;
//! - [`pipeline`]: every function built by its own config code, the local event
//!   source mappings and the schedules;
//! - [`caregivers`]: the caregivers answering alerts through the caregivers' API;
//! - [`run`]: one run, start to audit; [`summary`]: its verdict.

pub mod audit;
pub mod bench_cold;
pub mod caregivers;
pub mod chaos;
pub mod clock;
pub mod cost;
pub mod days_play;
pub mod escalations;
pub mod fleet;
pub mod gateway;
pub mod observe;
pub mod ops;
pub mod phones;
pub mod pipeline;
pub mod run;
pub mod summary;
pub mod view;
pub mod warehouse;
