"""Public pages anyone may open without logging in: an activity's page (/a/<id>, activity.py)
and certificate verification (verify.py)."""
