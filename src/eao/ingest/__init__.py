"""Ingestion: what a user brings (a videos CSV, caption files, the benchmarks' release files) turned
into the manifest, captions, probe and failures tables, with one clear error per bad file.
Modules: manifest (videos CSV, shards; `eao manifest`), captions (caption formats, splits), one
module per benchmark's files (youcook2, msrvtt, crosstask, mining_youtube), readers (shared file
readers), probe (`eao probe`), failures (`eao failures`). Depends only on eao.io."""
