//! egraph
