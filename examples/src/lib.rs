//! Runnable examples of vwifi live in `examples/`; this library is empty.
