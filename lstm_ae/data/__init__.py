"""Datasets: each module loads, normalizes and splits one kind of data into tensors."""
