"""Evaluation: embedding a test set, retrieval metrics (YouCook2, MSR-VTT) and step
localisation scores (CrossTask, Mining YouTube)."""
