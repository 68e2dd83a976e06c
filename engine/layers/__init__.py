"""Engine layers: one class per layer, forward and backward side by side."""

from .activations import ACTIVATIONS, LeakyReLU, ReLU, Sigmoid, Tanh, make_activation
from .base import Layer
from .container import Sequential
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .norm import BatchNorm
from .pool import AvgPool2D, Flatten, MaxPool2D
from .residual import Residual

__all__ = ["ACTIVATIONS", "AvgPool2D", "BatchNorm", "Conv2D", "Dense", "Dropout", "Flatten", "MaxPool2D",
           "Residual", "Layer", "LeakyReLU", "ReLU", "Sequential", "Sigmoid",
           "Tanh", "make_activation"]
