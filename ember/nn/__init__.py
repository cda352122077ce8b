"""`ember.nn`: modules, layers, losses, functional API, init and utilities, as in torch.nn."""

from ember.nn import functional, init, utils
from ember.nn.modules.activation import (ELU, GELU, Hardtanh, LeakyReLU, LogSoftmax, ReLU, ReLU6,
                                         SiLU, Sigmoid, Softmax, Softplus, Tanh)
from ember.nn.modules.attention import MultiheadAttention
from ember.nn.modules.container import ModuleDict, ModuleList, Sequential
from ember.nn.modules.conv import Conv1d, Conv2d, ConvTranspose2d
from ember.nn.modules.dropout import Dropout, Dropout2d
from ember.nn.modules.flatten import Flatten, Unflatten
from ember.nn.modules.linear import Bilinear, Identity, Linear
from ember.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                                   KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from ember.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d,
                                      MaxPool1d, MaxPool2d)
from ember.nn.modules.rnn import (GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell,
                                  RNNCellBase)
from ember.nn.modules.sparse import Embedding
from ember.nn.modules.transformer import TransformerEncoder, TransformerEncoderLayer
from ember.nn.parameter import Parameter
