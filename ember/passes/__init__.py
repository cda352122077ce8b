"""IR -> IR passes: the pass manager and every transformation, registered by name."""

from ember.passes.pass_manager import PASSES, Pass, PassManager, parse_pipeline, register_pass
from ember.passes import canonicalize  # registers `canonicalize`
from ember.passes import cse  # registers `cse`
from ember.passes import dce  # registers `dce`
from ember.passes import fold  # registers `fold`
from ember.passes import fusion  # registers `fuse`
from ember.passes import partition  # registers `partition`
from ember.passes import memory_plan  # registers `memory-plan`
from ember.passes import schedule  # registers `schedule`
from ember.passes import lower_loops  # registers `lower-to-loops`
from ember.passes import fuse_rows  # registers `fuse-rows`
from ember.passes import map_to_gpu  # registers `map-to-gpu`
from ember.passes import reuse_rows  # registers `reuse-row-values`
from ember.passes import hoist_reciprocals  # registers `hoist-reciprocals`
from ember.passes import donate_buffers  # registers `donate-buffers`
from ember.passes import stream_stores  # registers `stream-stores`
from ember.passes import pipeline_rows  # registers `pipeline-rows`
from ember.passes import prefetch_rows  # registers `prefetch-rows`

__all__ = ["PASSES", "Pass", "PassManager", "parse_pipeline", "register_pass"]
