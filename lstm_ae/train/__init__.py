"""Training: tasks (a batch -> a loss), the training loop (trainer) and its tracking (progress bar,
TensorBoard)."""
