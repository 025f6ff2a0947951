//! `vigil run`: Vigil's functions wired together on one machine exactly as AWS
//! would run them, driven by a simulated fleet of wristbands.

pub mod fleet;
