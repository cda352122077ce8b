"""The primitive definitions; importing this package fills the op table."""

from ember.ir.ops import creation, elementwise, indexing, linalg, movement, reduction
