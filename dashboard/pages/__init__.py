"""Pages: each module's `layout(**query)` builds the page fresh on every visit."""
