"""One module per flow, each a small table of states and transitions (see `base.Flow`)."""
