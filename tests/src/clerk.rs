//! Being written by the auth helper.
