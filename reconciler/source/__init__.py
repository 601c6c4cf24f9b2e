"""Where desired state comes from: Git repositories (and plain directories for local checks)."""
