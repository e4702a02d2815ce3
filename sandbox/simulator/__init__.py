"""The WeChat simulator in the browser (/simulator), for the sandbox and rehearsals.

app.py registers `bp` only when settings.simulator_available; anywhere else /simulator is a 404.
"""

from sandbox.simulator.views import USERS, bp

__all__ = ["USERS", "bp"]
