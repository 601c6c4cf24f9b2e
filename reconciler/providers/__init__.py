"""Providers: how the daemon observes and changes real state.

Each provider manages resources of some kinds (files, things behind an external program,
objects behind a REST API) through the same small interface (`base.Provider`); the
`registry` maps a resource's kind to the provider that manages it, including providers
installed by other packages through the `reconciler.providers` entry-point group.
"""
