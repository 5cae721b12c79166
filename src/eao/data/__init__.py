"""Model inputs from the ingested tables and feature shards: the shards of a run (corpus), token
helpers (tokens), pretraining clips (clips), benchmark items (benchmarks) and fine-tuning pairs
(pairs). Depends on eao.ingest and eao.io, never on the model."""
