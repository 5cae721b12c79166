"""Pretrained encoders the extractors run: ResNet-152 (2D), ResNeXt-101 (3D), CLIP, text models.

Each builder takes a weights spec (see `weights.py`) and returns the model in eval mode with a
`Provenance` that the feature shards record.
"""
