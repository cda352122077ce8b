"""lit configuration for ember-opt's text-in, text-out pass tests (`python -m lit -v .`)."""

import os
import sys

import lit.formats

# lit runs this file with `config` already defined.
config.name = "ember-opt"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.test_source_root

# Run the tools with this interpreter and this checkout, whatever is on PATH.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(config.test_source_root)))
config.environment["PYTHONPATH"] = _ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")
config.substitutions.append(("ember-opt", f'"{sys.executable}" -m ember.passes.cli'))
config.substitutions.append(("filecheck", f'"{sys.executable}" -m filecheck'))
