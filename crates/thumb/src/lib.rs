//! thumb
