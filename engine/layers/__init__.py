"""Engine layers: one class per layer, forward and backward side by side."""

from .activations import ACTIVATIONS, LeakyReLU, ReLU, Sigmoid, Tanh, make_activation
from .base import Layer
from .container import Sequential
from .dense import Dense
from .dropout import Dropout

__all__ = ["ACTIVATIONS", "Dense", "Dropout", "Layer", "LeakyReLU", "ReLU", "Sequential", "Sigmoid",
           "Tanh", "make_activation"]
