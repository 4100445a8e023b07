//! Memory layout planner (being written; see /work/brief/layout-api.md).
