"""The top navigation bar."""

import dash_bootstrap_components as dbc

PAGES = (("Launch", "/"), ("Runs", "/runs"), ("Compare", "/compare"), ("Lessons", "/lessons"), ("Query", "/query"))


def navbar():
    return dbc.NavbarSimple(
        children=[dbc.NavItem(dbc.NavLink(label, href=href, active="exact")) for label, href in PAGES],
        brand="NN Lab", brand_href="/", color="dark", dark=True, className="mb-3", fluid=True)
