"""Engine layers: one class per layer, forward and backward side by side."""

from .activations import ACTIVATIONS, LeakyReLU, ReLU, Sigmoid, Tanh, make_activation
from .attention import AdditiveAttention, DotAttention, MultiHeadAttention
from .base import Layer
from .container import Sequential
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .layernorm import LayerNorm
from .norm import BatchNorm
from .pool import AvgPool2D, Flatten, MaxPool2D
from .positional import LearnedPositional, SinusoidalPositional, make_positional
from .recurrent import GRUCell, LSTMCell, Recurrent, RNNCell, make_cell
from .residual import Residual
from .transformer import EncoderBlock, TransformerEncoder

__all__ = ["ACTIVATIONS", "AvgPool2D", "BatchNorm", "Conv2D", "Dense", "Dropout", "Flatten", "MaxPool2D",
           "Residual", "Layer", "LeakyReLU", "ReLU", "Sequential", "Sigmoid",
           "Tanh", "make_activation",
           # sequences and attention
           "AdditiveAttention", "DotAttention", "Embedding", "EncoderBlock", "GRUCell", "LSTMCell", "LayerNorm",
           "LearnedPositional", "MultiHeadAttention", "RNNCell", "Recurrent", "SinusoidalPositional",
           "TransformerEncoder", "make_cell", "make_positional"]
