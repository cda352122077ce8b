"""`ember.nn`: modules, layers, losses, functional API, init and utilities, as in torch.nn."""

from ember.nn import functional, init
from ember.nn.modules.container import ModuleDict, ModuleList, Sequential
from ember.nn.modules.dropout import Dropout
from ember.nn.modules.linear import Identity, Linear
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import LayerNorm
from ember.nn.parameter import Parameter
