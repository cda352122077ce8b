"""IR -> IR passes: the pass manager and every transformation, registered by name."""

from ember.passes.pass_manager import PASSES, Pass, PassManager, parse_pipeline, register_pass

__all__ = ["PASSES", "Pass", "PassManager", "parse_pipeline", "register_pass"]
