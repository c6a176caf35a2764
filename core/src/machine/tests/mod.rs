//! Tests of [`CloseMachine`]: one per transition, the life before the close and its guards,
//! the rendered transition table, and the one-line constructors they use.

mod helpers;
mod life;
mod table;
mod transitions;
