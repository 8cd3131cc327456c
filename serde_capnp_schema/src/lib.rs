//! Cap'n Proto schema model.
