//! wasm frontend
