"""Training: synthetic pairs, teacher, Feature-Align student distilled with feature matching, specialists."""
