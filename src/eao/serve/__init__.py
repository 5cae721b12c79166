"""`eao serve`: search indexes in the browser (eao.serve.app), over what eao.serve.catalog
holds: the indexes, their models and text encoders, loaded once."""
