"""Code-as-Task: the task format, validation, the challenger and the shipped task banks."""
