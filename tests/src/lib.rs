//! Shared test support: locating and loading the recorded traffic in `fixtures/`.
