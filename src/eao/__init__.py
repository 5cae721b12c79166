"""Everything at Once (EAO): multi-modal fusion transformer for video retrieval, as a pipeline."""

__version__ = "0.1.0"
