"""The dynamic-tape autograd engine and its VJP rules."""
