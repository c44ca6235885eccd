//! Test support shared by the end-to-end tests: real local servers and wire-format fakes.

pub mod app;
pub mod clerk;
pub mod data_stream;
pub mod documents;
pub mod dynamodb;
pub mod events;
pub mod fixtures;
pub mod gemini;
pub mod hume;
pub mod loopback;
pub mod multipart;
pub mod openai;
pub mod scripted;
