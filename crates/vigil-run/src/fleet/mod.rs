//! The wristband fleet simulator (being written).
