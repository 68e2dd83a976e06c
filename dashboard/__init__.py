"""The NN Lab dashboard: a Dash app factory, pages, component ids and pure figure builders."""
