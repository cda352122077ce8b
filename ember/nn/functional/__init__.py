"""`ember.nn.functional`: the functional forms of layers, activations and losses."""

from ember.frontend.ops.indexing import one_hot
from ember.nn.functional.activation import (elu, gelu, hardtanh, leaky_relu, log_softmax,
                                           normalize, relu, relu6, sigmoid, silu, softmax,
                                           softplus, tanh)
from ember.nn.functional.attention import scaled_dot_product_attention
from ember.nn.functional.conv import conv1d, conv2d, conv_transpose2d
from ember.nn.functional.dropout import dropout, dropout2d
from ember.nn.functional.linear import bilinear, linear
from ember.nn.functional.loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                                     cross_entropy, huber_loss, kl_div, l1_loss, mse_loss,
                                     nll_loss, smooth_l1_loss)
from ember.nn.functional.normalization import batch_norm, group_norm, layer_norm
from ember.nn.functional.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d,
                                        avg_pool2d, max_pool1d, max_pool2d)
from ember.nn.functional.sparse import embedding
from ember.nn.functional.vision import interpolate, pad
