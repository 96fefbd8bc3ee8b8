//! Integration tests across the workspace live under `tests/tests/`.
