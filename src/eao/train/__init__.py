"""Pretraining and fine-tuning of the fusion model: the combinatorial loss, the distributed
helpers and the training loop (`eao train`)."""
