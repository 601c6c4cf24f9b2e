"""The controller: per-source reconcile of desired (Git) against observed (providers) state."""
