//! Tests of [`CloseMachine`]: one per transition, the rendered transition table, and the
//! one-line constructors both use.

mod helpers;
mod table;
mod transitions;
