"""`ember.nn.functional`: the functional forms of layers, activations and losses."""

from ember.frontend.ops.indexing import one_hot
from ember.frontend.ops.linalg import conv2d
from ember.nn.functional.activation import log_softmax, relu, softmax
from ember.nn.functional.dropout import dropout
from ember.nn.functional.linear import linear
from ember.nn.functional.normalization import layer_norm
