//! The guest <-> host protocol: versioned messages and one codec shared by every transport.
