//! Cap'n Proto as a serde data format.
