"""Pure Plotly figure builders: plain data in, a figure out; empty input gives a figure with a note."""
