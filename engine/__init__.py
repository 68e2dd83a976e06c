"""NN Lab's NumPy engine: layers, models, losses, optimizers, data and training.

Imports only NumPy and the standard library.
"""

__version__ = "0.1.0"
